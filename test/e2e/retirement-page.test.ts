import { mkdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleCommands } from '../../server/credits/batch-handler.js';
import { decide } from '../../server/credits/decider.js';
import { initOrm, type Orm } from '../../server/db/orm.js';
import { loadEnv } from '../../server/env.js';
import { issueCertificateOnRetirement } from '../../server/proofs/issue-certificate.js';
import { proofSettingsFromEnv } from '../../server/proofs/signing-key.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createCredits } from '../helpers/retirement-e2e.js';

/*
 * The public retirement page as a reader sees it: Debian's Chromium, headless,
 * driven by playwright-core (no browser is downloaded). The page loads nothing
 * but itself, reads as a certificate on screen and in print, and its
 * screenshot is kept under test/artifacts/ (git-ignored) for people to look at.
 */

const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url));

let app: TestApp;
let orm: Orm;
let browser: Browser;
let id: string;

beforeAll(async () => {
  app = await startTestApp();
  orm = await initOrm(app.env.DATABASE_URL ?? '', { poolMax: 2, statementTimeoutMs: 60_000 });
  const proofs = await proofSettingsFromEnv(loadEnv(app.env));
  [id = ''] = await createCredits(app.admin, 1);
  await app.admin.credits.retire.mutate({ id, beneficiary: 'Acme Corp', reason: 'FY2026 scope 1 emissions' });
  // As the worker applies it: the retirement and its certificate in one transaction.
  const [outcome] = await handleCommands(
    orm.em.fork(),
    [{ creditId: id, decide: (state) => ({ events: decide({ type: 'retire', attempts: 1 }, state), actor: 'worker' }) }],
    { lockTimeoutMs: 2000, now: new Date(), afterAppend: issueCertificateOnRetirement(proofs) },
  );
  expect(outcome?.kind).toBe('handled');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-background-networking'] });
  await mkdir(artifacts, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await orm?.close();
  await app?.close();
});

describe('the public retirement page in Chromium', () => {
  it('renders the certificate from the page alone and is saved as a screenshot', async () => {
    const { jws, kid, certificate } = await app.admin.credits.certificate.query({ id });
    const page = await browser.newPage({ viewport: { width: 900, height: 1200 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const res = await page.goto(`${app.url}/retirements/${id}`);
    expect(res?.status()).toBe(200);

    const text = await page.locator('body').innerText();
    expect(await page.locator('h1').innerText()).toMatch(/tCO2e retired/);
    for (const shown of ['Acme Corp', 'FY2026 scope 1 emissions', certificate.projectName, certificate.serialNumber, kid]) expect(text).toContain(shown);
    // The JWS is there whole, to be copied and verified offline.
    expect(text.replace(/\s+/g, '')).toContain(jws);
    // Nothing but the page itself was fetched: no scripts, fonts, styles or images from anywhere.
    expect(requests).toEqual([`${app.url}/retirements/${id}`]);
    expect(errors).toEqual([]);

    const screenshot = `${artifacts}retirement-page.png`;
    await page.screenshot({ path: screenshot, fullPage: true });
    expect((await stat(screenshot)).size).toBeGreaterThan(10_000);
    await page.emulateMedia({ media: 'print' });
    await page.screenshot({ path: `${artifacts}retirement-page-print.png`, fullPage: true });
    await page.close();
  });

  it('shows the 404 page for a credit that is not retired', async () => {
    const [pending = ''] = await createCredits(app.admin, 1);
    const page = await browser.newPage();
    const res = await page.goto(`${app.url}/retirements/${pending}`);
    expect(res?.status()).toBe(404);
    expect(await page.locator('h1').innerText()).toBe('No certificate here');
    expect(await page.locator('body').innerText()).not.toContain(pending);
    await page.close();
  });
});
