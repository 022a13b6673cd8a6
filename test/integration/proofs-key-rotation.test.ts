import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCertificate } from '../../client/index.js';
import { handleCommands } from '../../server/credits/batch-handler.js';
import { decide } from '../../server/credits/decider.js';
import { initOrm, type Orm } from '../../server/db/orm.js';
import { loadEnv } from '../../server/env.js';
import { issueCertificateOnRetirement } from '../../server/proofs/issue-certificate.js';
import { proofSettingsFromEnv } from '../../server/proofs/signing-key.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createCredits } from '../helpers/retirement-e2e.js';
import { newSigningJwk } from '../helpers/signing-keys.js';

/*
 * Rotating the signing key: a certificate signed with the old key still
 * verifies with the JWK Set a ledger serves once the old public key is in
 * LEDGER_PREVIOUS_PUBLIC_KEYS, and only then.
 */

const apps: TestApp[] = [];
let orm: Orm;

beforeAll(async () => {
  apps.push(await startTestApp());
});

afterAll(async () => {
  await orm?.close();
  await Promise.all(apps.map((a) => a.close()));
});

const jwksOf = async (app: TestApp): Promise<{ keys: { kid: string }[] }> => (await fetch(`${app.url}/.well-known/jwks.json`)).json() as Promise<{ keys: { kid: string }[] }>;

describe('key rotation', () => {
  it('keeps certificates of the old key valid through LEDGER_PREVIOUS_PUBLIC_KEYS', async () => {
    const [before] = apps as [TestApp];
    const oldProofs = await proofSettingsFromEnv(loadEnv(before.env));
    orm = await initOrm(before.env.DATABASE_URL ?? '', { poolMax: 2, statementTimeoutMs: 60_000 });
    const [id = ''] = await createCredits(before.admin, 1);
    await before.admin.credits.retire.mutate({ id, beneficiary: 'Acme Corp' });
    await handleCommands(orm.em.fork(), [{ creditId: id, decide: (state) => ({ events: decide({ type: 'retire', attempts: 1 }, state), actor: 'worker' }) }], {
      lockTimeoutMs: 2000,
      now: new Date(),
      afterAppend: issueCertificateOnRetirement(oldProofs),
    });
    const { jws } = await before.admin.credits.certificate.query({ id });

    // The new key, with the old public key kept for the proofs it signed.
    const next = await newSigningJwk();
    const rotated = await startTestApp({ LEDGER_SIGNING_KEY: next.privateJwk, LEDGER_PREVIOUS_PUBLIC_KEYS: JSON.stringify({ keys: [oldProofs.signer.publicJwk] }) });
    apps.push(rotated);
    const rotatedJwks = await jwksOf(rotated);
    const newKid = (await proofSettingsFromEnv(loadEnv(rotated.env))).signer.kid;
    expect(rotatedJwks.keys.map((k) => k.kid)).toEqual([newKid, oldProofs.signer.kid]);
    expect(await verifyCertificate(jws, rotatedJwks)).toMatchObject({ ok: true, kid: oldProofs.signer.kid, certificate: { creditId: id } });

    // Without the previous key, the old certificate names the key it cannot find.
    const forgetful = await startTestApp({ LEDGER_SIGNING_KEY: next.privateJwk });
    apps.push(forgetful);
    expect(await verifyCertificate(jws, await jwksOf(forgetful))).toMatchObject({ ok: false, reason: 'unknown_kid', kid: oldProofs.signer.kid });
  });
});
