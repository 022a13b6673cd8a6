import { createPrivateKey, createPublicKey } from 'node:crypto';

/*
 * Checks of the key settings as server/env.ts parses them, synchronously and
 * without jose: is LEDGER_SIGNING_KEY an Ed25519 private key, and is
 * LEDGER_PREVIOUS_PUBLIC_KEYS a list of Ed25519 public keys? Messages never
 * quote the key.
 */

/** PEM in one line, as .env files hold it: literal "\n" sequences stand for line breaks. */
export const unescapePem = (text: string): string => (text.includes('-----BEGIN') ? text.trim().replace(/\\n/g, '\n') : text.trim());

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What is wrong with a signing key (PKCS#8 PEM or a private JWK), or null. */
export function signingKeyProblem(raw: string): string | null {
  const text = unescapePem(raw);
  try {
    if (text.startsWith('-----BEGIN')) {
      if (!text.startsWith('-----BEGIN PRIVATE KEY-----')) return 'must be a PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----") or a private JWK';
      const key = createPrivateKey({ key: text, format: 'pem' });
      return key.asymmetricKeyType === 'ed25519' ? null : `must be an Ed25519 key, not ${key.asymmetricKeyType ?? 'an unknown type'}`;
    }
    const jwk: unknown = JSON.parse(text);
    if (!isRecord(jwk) || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') return 'must be an Ed25519 key: a PKCS#8 PEM or a JWK with "kty":"OKP","crv":"Ed25519"';
    if (typeof jwk.d !== 'string') return 'is a public JWK: the signing key needs its private part "d"';
    createPrivateKey({ key: jwk, format: 'jwk' });
    return null;
  } catch {
    return 'is neither a PKCS#8 PEM nor a JWK of an Ed25519 private key';
  }
}

/** The JWKs in LEDGER_PREVIOUS_PUBLIC_KEYS: a JWK Set {"keys":[…]} or a JSON array of JWKs. */
export function previousKeyList(raw: string): unknown[] {
  const parsed: unknown = JSON.parse(raw);
  if (Array.isArray(parsed)) return parsed;
  if (isRecord(parsed) && Array.isArray(parsed.keys)) return parsed.keys;
  throw new Error('must be a JWK Set {"keys":[…]} or a JSON array of public JWKs');
}

/** What is wrong with the previous public keys, or null. */
export function previousKeysProblem(raw: string): string | null {
  let keys: unknown[];
  try {
    keys = previousKeyList(raw);
  } catch (err) {
    return err instanceof SyntaxError ? 'is not JSON: give a JWK Set {"keys":[…]} or a JSON array of public JWKs' : (err as Error).message;
  }
  for (const [i, jwk] of keys.entries()) {
    if (!isRecord(jwk) || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') return `key ${i} is not an Ed25519 public JWK ("kty":"OKP","crv":"Ed25519","x":…)`;
    if ('d' in jwk) return `key ${i} holds a private part "d": give public keys only`;
    try {
      createPublicKey({ key: jwk, format: 'jwk' });
    } catch {
      return `key ${i} is not a valid Ed25519 public key`;
    }
  }
  return null;
}
