import { calculateJwkThumbprint } from 'jose';
import { previousKeyList } from './key-settings.js';

/*
 * The ledger's public keys as a JWK Set (RFC 7517), served at
 * /.well-known/jwks.json: the current signing key's public half and every
 * earlier one still needed to check old proofs. A key's ID (kid) is its
 * RFC 7638 thumbprint, so anyone can recompute it from the key itself.
 */

export type LedgerPublicJwk = { kty: 'OKP'; crv: 'Ed25519'; x: string; kid: string; alg: 'EdDSA'; use: 'sig' };
export type LedgerJwks = { keys: LedgerPublicJwk[] };

/** The public JWK of an Ed25519 key (from its x), with its thumbprint as kid. */
export async function publicJwkOf(jwk: { x: string }): Promise<LedgerPublicJwk> {
  const kid = await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }, 'sha256');
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: 'EdDSA', use: 'sig' };
}

/**
 * LEDGER_PREVIOUS_PUBLIC_KEYS (checked by server/env.ts): a JWK Set or an
 * array of public JWKs. A kid given with a key must be its thumbprint: any
 * other would name a key no proof of ours was signed with.
 */
export async function parsePreviousPublicKeys(raw: string | undefined): Promise<LedgerPublicJwk[]> {
  if (!raw) return [];
  const out: LedgerPublicJwk[] = [];
  for (const [i, jwk] of previousKeyList(raw).entries()) {
    const given = jwk as { x: string; kid?: unknown };
    const key = await publicJwkOf(given);
    if (given.kid !== undefined && given.kid !== key.kid) {
      throw new Error(`LEDGER_PREVIOUS_PUBLIC_KEYS: key ${i} says kid ${JSON.stringify(given.kid)}, but its RFC 7638 thumbprint is ${key.kid}`);
    }
    out.push(key);
  }
  return out;
}

/** The JWK Set: the current key first, each key once. */
export function jwksOf(current: LedgerPublicJwk | null, previous: LedgerPublicJwk[]): LedgerJwks {
  const keys = new Map<string, LedgerPublicJwk>();
  for (const k of [...(current ? [current] : []), ...previous]) if (!keys.has(k.kid)) keys.set(k.kid, k);
  return { keys: [...keys.values()] };
}
