import { exportJWK, generateKeyPair } from 'jose';
import { generateSigningKeyPem } from '../../server/proofs/signing-key.js';

/** One signing key per test process (PKCS#8 PEM), for the APIs and workers it starts. */
let testKey: Promise<string> | undefined;
export const testSigningKeyPem = (): Promise<string> => (testKey ??= generateSigningKeyPem());

/** A fresh Ed25519 key pair as JWKs: the private one (for LEDGER_SIGNING_KEY) and the public one. */
export async function newSigningJwk(): Promise<{ privateJwk: string; publicJwk: { kty: string; crv: string; x: string } }> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  return { privateJwk: JSON.stringify(jwk), publicJwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x as string } };
}
