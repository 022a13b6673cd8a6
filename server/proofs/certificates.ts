import type { EntityManager } from '@mikro-orm/postgresql';
import { decodeProtectedHeader } from 'jose';
import type { RetirementCertificate } from './certificate.js';
import { findCertificate } from './certificate-store.js';

/*
 * Reading certificates back: the stored JWS and what it says. What is shown
 * comes from the signed payload alone, never from the live tables, so a
 * certificate shows exactly what its signature covers.
 */

export type CertificateAnswer = { jws: string; kid: string; certificate: RetirementCertificate };

/** The payload of one of our own compact JWS (already trusted: it was read from our table, not from a caller). */
function payloadOf<T>(jws: string): T {
  const [, payload = ''] = jws.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as T;
}

/** The certificate of a retired credit, or null when the credit is unknown, not retired, or retired before certificates existed. */
export async function certificateOfCredit(em: EntityManager, creditId: string): Promise<CertificateAnswer | null> {
  const row = await findCertificate(em, creditId);
  if (!row) return null;
  const kid = decodeProtectedHeader(row.jws).kid ?? row.kid;
  return { jws: row.jws, kid, certificate: payloadOf<RetirementCertificate>(row.jws) };
}
