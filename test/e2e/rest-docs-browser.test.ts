import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestApp, type TestApp } from '../helpers/app.js';

/*
 * /docs as a person uses it, in Debian's headless Chromium (never a
 * downloaded browser): every operation of /openapi.json is listed, the
 * Authorize dialog takes an API key, and "Try it out" on GET
 * /api/records/{id} fetches the record. Nothing is loaded from anywhere but
 * the ledger itself: the docs must work offline.
 */

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

/** The facade's operations, as Swagger UI shows them (the generator drops a trailing slash). */
const OPERATIONS = [
  'POST /api/records',
  'GET /api/records',
  'GET /api/records/{id}',
  'POST /api/records/{id}/retire',
  'GET /api/records/{id}/retirement',
];

let app: TestApp;
let browser: Browser;
let recordId: string;
let auditorKey: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`);
  app = await startTestApp();
  const created = await fetch(`${app.url}/api/records/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ project_name: 'Docs Browser Project', registry: 'Verra', vintage: 2022, quantity: '42', serial_number: 'DOCS-BROWSER-1' }),
  });
  expect(created.status).toBe(200);
  recordId = ((await created.json()) as { id: string }).id;
  auditorKey = (await app.as('auditor')).key;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-background-networking'] });
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('/docs in a browser', () => {
  it('lists every operation, authorizes with an API key and fetches a record with "Try it out"', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    const origins = new Set<string>();
    page.on('request', (request) => origins.add(new URL(request.url()).origin));
    const failures: string[] = [];
    page.on('requestfailed', (request) => failures.push(`${request.url()}: ${request.failure()?.errorText ?? ''}`));

    await page.goto(`${app.url}/docs`);
    await page.locator('.opblock').first().waitFor();

    // Every operation of the document, and the document has exactly the facade's.
    const document = (await (await fetch(`${app.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(document.paths).flatMap(([p, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${p}`));
    expect(documented.sort()).toEqual([...OPERATIONS].sort());
    const summaries = page.locator('.opblock-summary');
    const listed: string[] = [];
    for (let i = 0; i < (await summaries.count()); i++) {
      const summary = summaries.nth(i);
      const method = (await summary.locator('.opblock-summary-method').textContent()) ?? '';
      const documentedPath = (await summary.locator('.opblock-summary-path').getAttribute('data-path')) ?? '';
      listed.push(`${method} ${documentedPath}`);
    }
    expect(listed.sort()).toEqual([...OPERATIONS].sort());

    // Authorize: the API-key scheme takes the key, and Swagger UI sends it as a bearer token.
    await page.locator('.auth-wrapper .authorize').click();
    const dialog = page.locator('.modal-ux');
    await dialog.locator('input[type=text], input[type=password]').first().fill(auditorKey);
    await dialog.getByRole('button', { name: 'Apply credentials' }).click();
    await expect.poll(() => dialog.locator('.auth-container').textContent()).toContain('Authorized');
    await dialog.locator('button.btn-done').click();

    const operation = page.locator('#operations-records-getRecord');
    await operation.locator('.opblock-summary').click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    await operation.locator('input[placeholder="id"]').fill(recordId);
    const answered = page.waitForResponse((r) => r.url().endsWith(`/api/records/${recordId}`));
    await operation.getByRole('button', { name: 'Execute' }).click();
    const response = await answered;
    expect(response.status()).toBe(200);
    expect(response.request().headers().authorization).toBe(`Bearer ${auditorKey}`);

    const live = operation.locator('.live-responses-table');
    await expect.poll(() => live.locator('tr.response .response-col_status').first().textContent()).toContain('200');
    const shown = (await live.locator('tr.response .response-col_description .highlight-code pre').first().textContent()) ?? '';
    expect(JSON.parse(shown)).toMatchObject({
      id: recordId,
      project_name: 'Docs Browser Project',
      serial_number: 'DOCS-BROWSER-1',
      quantity: '42',
      status: 'active',
      events: [{ event_type: 'created' }],
    });

    await mkdir(ARTIFACTS, { recursive: true });
    await operation.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, 'docs-try-it-out.png'), fullPage: true });

    // Everything came from the ledger: no CDN, no validator badge, nothing failed to load.
    expect([...origins]).toEqual([app.url]);
    expect(failures).toEqual([]);
    await page.close();
  });
});
