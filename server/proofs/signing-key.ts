import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, exportPKCS8, generateKeyPair, importJWK, importPKCS8, type CryptoKey, type JWK } from 'jose';
import type { Env } from '../env.js';
import { jwksOf, parsePreviousPublicKeys, publicJwkOf, type LedgerJwks, type LedgerPublicJwk } from './jwks.js';
import { unescapePem } from './key-settings.js';

/*
 * The ledger's Ed25519 signing key (LEDGER_SIGNING_KEY: PKCS#8 PEM or a
 * private JWK). It signs retirement certificates and checkpoints; the
 * database never holds it, only what it signed. Its kid is the RFC 7638
 * thumbprint of its public half.
 */

export type SigningKey = { kid: string; privateKey: CryptoKey; publicJwk: LedgerPublicJwk };

/** What proofs need in a process: the key, every public key to check with, and the ledger's name (iss). */
export type ProofSettings = { signer: SigningKey; jwks: LedgerJwks; issuer: string };

export async function importSigningKey(raw: string): Promise<SigningKey> {
  const text = unescapePem(raw);
  const privateKey = text.startsWith('-----BEGIN')
    ? await importPKCS8(text, 'EdDSA', { extractable: true })
    : ((await importJWK({ ...(JSON.parse(text) as JWK), alg: 'EdDSA' }, 'EdDSA', { extractable: true })) as CryptoKey);
  const jwk = await exportJWK(privateKey);
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.x) throw new Error('LEDGER_SIGNING_KEY: not an Ed25519 private key');
  const publicJwk = await publicJwkOf({ x: jwk.x });
  return { kid: publicJwk.kid, privateKey, publicJwk };
}

/** A new Ed25519 key as PKCS#8 PEM. */
export async function generateSigningKeyPem(): Promise<string> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  return exportPKCS8(privateKey);
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Where a development machine keeps its data: DATA_DIR, else .data/ in the repository (as npm start). */
const localDataRoot = (env: Pick<Env, 'DATA_DIR'>): string => env.DATA_DIR ?? join(repoRoot, '.data');

/**
 * For development only: the key kept in <dataRoot>/ledger-signing-key.pem
 * (mode 0600), made the first time. Processes starting at once agree: the
 * key is written whole to a file of its own and then linked into place, which
 * fails if another got there first; the loser reads the winner's.
 */
export async function localSigningKey(dataRoot: string): Promise<{ pem: string; path: string; created: boolean }> {
  const path = join(dataRoot, 'ledger-signing-key.pem');
  const read = async () => (await readFile(path, 'utf8')).trim();
  try {
    return { pem: await read(), path, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataRoot, { recursive: true });
  const pem = await generateSigningKeyPem();
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(draft, pem, { mode: 0o600, flag: 'wx' });
  try {
    await link(draft, path);
    return { pem: pem.trim(), path, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { pem: await read(), path, created: false };
  } finally {
    await rm(draft, { force: true });
  }
}

/**
 * The public keys to check proofs with, from the settings alone: the signing
 * key's public half (LEDGER_SIGNING_KEY, or outside production the
 * development key if there is one; none is made here) and the previous keys.
 */
export async function publicKeysFromEnv(env: Env): Promise<LedgerJwks> {
  let current: LedgerPublicJwk | null = null;
  if (env.LEDGER_SIGNING_KEY) current = (await importSigningKey(env.LEDGER_SIGNING_KEY)).publicJwk;
  else if (!isProduction(env)) {
    const pem = await readFile(join(localDataRoot(env), 'ledger-signing-key.pem'), 'utf8').catch(() => null);
    if (pem) current = (await importSigningKey(pem)).publicJwk;
  }
  return jwksOf(current, await previousJwks(env));
}

const isProduction = (env: Pick<Env, 'NODE_ENV'>): boolean => env.NODE_ENV === 'production';

/**
 * The signing key of this process: LEDGER_SIGNING_KEY; without it, in
 * production, an error (no default secrets); elsewhere the development key
 * under DATA_DIR (or .data/), made when missing, with a warning.
 */
export async function signingKeyFromEnv(env: Env, warn: (message: string) => void = () => undefined): Promise<SigningKey> {
  if (env.LEDGER_SIGNING_KEY) return importSigningKey(env.LEDGER_SIGNING_KEY);
  if (isProduction(env)) {
    throw new Error('LEDGER_SIGNING_KEY is not set: NODE_ENV=production needs the ledger\'s Ed25519 signing key (PKCS#8 PEM or JWK; README "Proofs")');
  }
  const local = await localSigningKey(localDataRoot(env));
  warn(`LEDGER_SIGNING_KEY is not set: using the development key in ${local.path}${local.created ? ' (generated now)' : ''}; never in production`);
  return importSigningKey(local.pem);
}

/** The previous public keys alone, as a JWK Set (for checking without the signing key). */
async function previousJwks(env: Env): Promise<LedgerPublicJwk[]> {
  return parsePreviousPublicKeys(env.LEDGER_PREVIOUS_PUBLIC_KEYS);
}

export async function proofSettingsFromEnv(env: Env, warn?: (message: string) => void): Promise<ProofSettings> {
  const signer = await signingKeyFromEnv(env, warn);
  return { signer, jwks: jwksOf(signer.publicJwk, await previousJwks(env)), issuer: env.LEDGER_ISSUER };
}
