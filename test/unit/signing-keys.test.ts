import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../server/env.js';
import { jwksOf, parsePreviousPublicKeys, publicJwkOf } from '../../server/proofs/jwks.js';
import { importSigningKey, localSigningKey, proofSettingsFromEnv, publicKeysFromEnv, signingKeyFromEnv } from '../../server/proofs/signing-key.js';
import { newSigningJwk, testSigningKeyPem } from '../helpers/signing-keys.js';
import { refusedSettings } from '../helpers/env-refusal.js';

const dirs: string[] = [];
const tempDir = async () => {
  const d = await mkdtemp(path.join(os.tmpdir(), 'signing-key-'));
  dirs.push(d);
  return d;
};
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('proof settings', () => {
  it('have defaults: no key, issuer carbon-credit-ledger, public pages on, a checkpoint a minute', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({ LEDGER_ISSUER: 'carbon-credit-ledger', PUBLIC_RETIREMENTS: true, CHECKPOINT_INTERVAL_MS: 60_000 });
    expect(env.LEDGER_SIGNING_KEY).toBeUndefined();
    expect(loadEnv({ PUBLIC_RETIREMENTS: 'false', CHECKPOINT_INTERVAL_MS: '0' })).toMatchObject({ PUBLIC_RETIREMENTS: false, CHECKPOINT_INTERVAL_MS: 0 });
  });

  it('take the signing key as PKCS#8 PEM (also with \\n escapes, as .env files hold it) or as a private JWK', async () => {
    const pem = await testSigningKeyPem();
    const { privateJwk } = await newSigningJwk();
    expect(loadEnv({ LEDGER_SIGNING_KEY: pem }).LEDGER_SIGNING_KEY).toBe(pem);
    expect(() => loadEnv({ LEDGER_SIGNING_KEY: pem.replace(/\n/g, '\\n') })).not.toThrow();
    expect(() => loadEnv({ LEDGER_SIGNING_KEY: privateJwk })).not.toThrow();
    const a = await importSigningKey(pem);
    const b = await importSigningKey(pem.replace(/\n/g, '\\n'));
    expect(b.kid).toBe(a.kid);
  });

  it('refuse a bad key, naming the variable and never quoting the key', async () => {
    const { privateJwk, publicJwk } = await newSigningJwk();
    const cases = ['not a key', '{"kty":"RSA"}', JSON.stringify(publicJwk), '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----', privateJwk.replace(/"d":"[^"]+"/, '"d":"AAAA"')];
    for (const bad of cases) {
      const issues = refusedSettings({ LEDGER_SIGNING_KEY: bad });
      expect(issues.map((i) => i.variable)).toEqual(['LEDGER_SIGNING_KEY']);
      expect(issues[0]?.message).not.toContain(bad);
    }
    expect(refusedSettings({ LEDGER_SIGNING_KEY: JSON.stringify(publicJwk) })[0]?.message).toMatch(/private part "d"/);
  });

  it('refuse previous keys that are not Ed25519 public JWKs, naming the variable', async () => {
    const { privateJwk, publicJwk } = await newSigningJwk();
    for (const bad of ['nope', '{}', JSON.stringify([JSON.parse(privateJwk)]), JSON.stringify({ keys: [{ kty: 'OKP', crv: 'X25519', x: publicJwk.x }] })]) {
      expect(refusedSettings({ LEDGER_PREVIOUS_PUBLIC_KEYS: bad }).map((i) => i.variable)).toEqual(['LEDGER_PREVIOUS_PUBLIC_KEYS']);
    }
    expect(() => loadEnv({ LEDGER_PREVIOUS_PUBLIC_KEYS: JSON.stringify({ keys: [publicJwk] }) })).not.toThrow();
    expect(() => loadEnv({ LEDGER_PREVIOUS_PUBLIC_KEYS: JSON.stringify([publicJwk]) })).not.toThrow();
    await expect(parsePreviousPublicKeys(JSON.stringify([{ ...publicJwk, kid: 'made-up' }]))).rejects.toThrow(/LEDGER_PREVIOUS_PUBLIC_KEYS: key 0 says kid "made-up"/);
  });

  it('refuse a bad issuer or checkpoint interval, naming the variable', () => {
    expect(refusedSettings({ LEDGER_ISSUER: 'has spaces' }).map((i) => i.variable)).toEqual(['LEDGER_ISSUER']);
    expect(refusedSettings({ CHECKPOINT_INTERVAL_MS: '500' }).map((i) => i.variable)).toEqual(['CHECKPOINT_INTERVAL_MS']);
    expect(refusedSettings({ PUBLIC_RETIREMENTS: 'perhaps' }).map((i) => i.variable)).toEqual(['PUBLIC_RETIREMENTS']);
  });
});

describe('key IDs', () => {
  it('are RFC 7638 thumbprints (the Ed25519 example of RFC 8037 §A.3)', async () => {
    const key = await publicJwkOf({ x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' });
    expect(key).toEqual({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k', alg: 'EdDSA', use: 'sig' });
  });

  it('the JWK Set holds the current key first and each previous key once, public parts only', async () => {
    const current = await importSigningKey(await testSigningKeyPem());
    const { publicJwk } = await newSigningJwk();
    const previous = await parsePreviousPublicKeys(JSON.stringify({ keys: [publicJwk, current.publicJwk, publicJwk] }));
    const jwks = jwksOf(current.publicJwk, previous);
    expect(jwks.keys.map((k) => k.kid)).toEqual([current.kid, (await publicJwkOf(publicJwk)).kid]);
    expect(JSON.stringify(jwks)).not.toMatch(/"d"/);
  });
});

describe('where the signing key comes from', () => {
  it('production refuses to run without LEDGER_SIGNING_KEY, naming it', async () => {
    const dir = await tempDir();
    await expect(signingKeyFromEnv(loadEnv({ NODE_ENV: 'production', DATA_DIR: dir }))).rejects.toThrow(/LEDGER_SIGNING_KEY is not set: NODE_ENV=production/);
    // And it never falls back to a key file, not even one that exists.
    await localSigningKey(dir);
    await expect(proofSettingsFromEnv(loadEnv({ NODE_ENV: 'production', DATA_DIR: dir }))).rejects.toThrow(/LEDGER_SIGNING_KEY/);
    expect((await publicKeysFromEnv(loadEnv({ NODE_ENV: 'production', DATA_DIR: dir }))).keys).toEqual([]);
  });

  it('development makes one key into the data folder, mode 0600, once, even for processes starting together', async () => {
    const dir = await tempDir();
    const warnings: string[] = [];
    const keys = await Promise.all(Array.from({ length: 5 }, () => signingKeyFromEnv(loadEnv({ DATA_DIR: dir }), (m) => warnings.push(m))));
    expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
    const file = path.join(dir, 'ledger-signing-key.pem');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(warnings[0]).toMatch(/LEDGER_SIGNING_KEY is not set: using the development key in .*ledger-signing-key\.pem/);
    expect((await publicKeysFromEnv(loadEnv({ DATA_DIR: dir }))).keys.map((k) => k.kid)).toEqual([keys[0]?.kid]);
  });
});
