// Type-only: the payload's shape comes from the server, none of its code.
import type { LedgerOutputs } from './ledger-client.js';
import { verifyLedgerJws, type VerificationFailure } from './verify-jws.js';

/** What a retirement certificate's JWS signs: the payload credits.certificate answers (server/proofs/certificate.ts). */
export type RetirementCertificate = LedgerOutputs['credits']['certificate']['certificate'];
export type { VerificationFailure };

/** The JWS header's typ of a certificate (server/proofs/certificate.ts). */
const CERTIFICATE_TYP = 'ledger-retirement-certificate+jws';

export type CertificateVerification = { ok: true; kid: string; certificate: RetirementCertificate } | VerificationFailure;

const isString = (v: unknown): v is string => typeof v === 'string';

function isCertificate(p: unknown): p is RetirementCertificate {
  const c = p as Partial<Record<keyof RetirementCertificate, unknown>> | null;
  if (typeof c !== 'object' || c === null || c.kind !== 'retirement-certificate/v1') return false;
  const texts = [c.iss, c.creditId, c.registry, c.projectName, c.serialNumber, c.quantity, c.beneficiary, c.requestedBy, c.requestedAt, c.retiredAt];
  const event = c.retiredEvent as { position?: unknown; hash?: unknown } | undefined;
  return (
    texts.every(isString) &&
    typeof c.vintage === 'number' &&
    (c.reason === null || isString(c.reason)) &&
    (c.partOf === null || isString(c.partOf)) &&
    (c.unitRange === null || (typeof c.unitRange === 'object' && typeof (c.unitRange as { first?: unknown }).first === 'number')) &&
    typeof event === 'object' &&
    isString(event.position) &&
    isString(event.hash)
  );
}

/**
 * Checks a retirement certificate offline, with no call to the ledger: `jws`
 * as credits.certificate or the public page gave it, `jwks` the ledger's JWK
 * Set (from /.well-known/jwks.json, as an object or its JSON text). Says
 * which key signed it and what it certifies, or why it fails. Works in
 * browsers and Node (WebCrypto with Ed25519). Throws TypeError only when
 * `jwks` is not a JWK Set.
 */
export async function verifyCertificate(jws: string, jwks: unknown): Promise<CertificateVerification> {
  const r = await verifyLedgerJws(jws, jwks, { typ: CERTIFICATE_TYP, what: 'retirement certificate', isPayload: isCertificate });
  return r.ok ? { ok: true, kid: r.kid, certificate: r.payload } : r;
}
