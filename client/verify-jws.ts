import { compactVerify, createLocalJWKSet, decodeProtectedHeader, errors, type JSONWebKeySet } from 'jose';

/*
 * Checking one of the ledger's compact JWS offline, against its JWK Set:
 * which key signed it, or why it fails. jose on WebCrypto, so it runs the
 * same in browsers and in Node.
 */

export type VerificationFailure = {
  ok: false;
  /**
   * malformed: not a compact JWS of ours (truncated, bad encoding, no kid, a
   * payload that is not the expected document); unknown_kid: signed with a key
   * that is not in the JWK Set; bad_signature: the signature does not match its
   * contents (altered) or was made by another key with that kid; wrong_type: a
   * valid JWS of another kind (a checkpoint offered as a certificate, say).
   */
  reason: 'malformed' | 'unknown_kid' | 'bad_signature' | 'wrong_type';
  message: string;
  /** The kid the JWS names, when it names one. */
  kid?: string;
};

export type Verified<T> = { ok: true; kid: string; payload: T };

/** A JWK Set as an object or as its JSON text. Throws TypeError when it is neither. */
export function jwkSetOf(jwks: unknown): JSONWebKeySet {
  const value: unknown = typeof jwks === 'string' ? JSON.parse(jwks) : jwks;
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { keys?: unknown }).keys)) {
    throw new TypeError('jwks must be a JWK Set: {"keys": [...]}, as /.well-known/jwks.json serves it');
  }
  return value as JSONWebKeySet;
}

const fail = (reason: VerificationFailure['reason'], message: string, kid?: string): VerificationFailure => ({ ok: false, reason, message, ...(kid ? { kid } : {}) });

export async function verifyLedgerJws<T>(
  jws: string,
  jwks: unknown,
  expected: { typ: string; what: string; isPayload: (p: unknown) => p is T },
): Promise<Verified<T> | VerificationFailure> {
  const set = jwkSetOf(jwks);
  const text = typeof jws === 'string' ? jws.trim() : '';
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(text)) return fail('malformed', `not a compact JWS (three base64url parts separated by dots): truncated or not a ${expected.what}`);
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(text);
  } catch {
    return fail('malformed', 'its header is not base64url-encoded JSON');
  }
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  if (!kid) return fail('malformed', 'its header names no key (kid)');
  if (header.alg !== 'EdDSA') return fail('malformed', `its algorithm is ${JSON.stringify(header.alg)}, not EdDSA`, kid);
  if (!set.keys.some((k) => k.kid === kid)) return fail('unknown_kid', `signed with key ${kid}, which is not in the JWK Set`, kid);
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(text, createLocalJWKSet(set), { algorithms: ['EdDSA'] }));
  } catch (err) {
    if (err instanceof errors.JWSSignatureVerificationFailed) return fail('bad_signature', `the signature does not match: altered after signing, or not made by key ${kid}`, kid);
    if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return fail('unknown_kid', `no usable EdDSA key ${kid} in the JWK Set`, kid);
    return fail('malformed', `not a valid JWS: ${err instanceof Error ? err.message : String(err)}`, kid);
  }
  if (header.typ !== expected.typ) return fail('wrong_type', `a valid JWS of type ${JSON.stringify(header.typ)}, not a ${expected.what} (${expected.typ})`, kid);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    return fail('malformed', 'its payload is not JSON', kid);
  }
  if (!expected.isPayload(value)) return fail('malformed', `its payload is not a ${expected.what}`, kid);
  return { ok: true, kid, payload: value };
}
