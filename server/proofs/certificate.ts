import { CompactSign } from 'jose';
import { canonicalJson } from '../credits/event-hash.js';
import type { StoredEvent } from '../credits/events.js';
import type { UnitRange } from '../credits/serial-ranges.js';
import { currentSerial, type CreditState } from '../credits/state.js';
import type { SigningKey } from './signing-key.js';

/*
 * A retirement certificate: a compact JWS (EdDSA, Ed25519) over what was
 * retired, for whom, when, and where in the log, issued by the worker in the
 * same transaction as the `retired` event. Anyone holding the ledger's public
 * keys can check it offline (client/verify-certificate.ts).
 */

/** The JWS header's typ: a checkpoint (or any other JWS of ours) is never taken for a certificate. */
export const CERTIFICATE_TYP = 'ledger-retirement-certificate+jws';

/** The certificate payload (version 1). Times are ISO-8601 UTC; quantity is a canonical decimal string in tCO2e. */
export type RetirementCertificate = {
  /** Always 'retirement-certificate/v1'. */
  kind: 'retirement-certificate/v1';
  /** The ledger that issued it (LEDGER_ISSUER). */
  iss: string;
  creditId: string;
  registry: string;
  projectName: string;
  vintage: number;
  /** The registry's serial of what was retired: of its units when the serial spells a range (Verra, Gold Standard). */
  serialNumber: string;
  /** The units retired, for a block; null for an amount-only credit. */
  unitRange: UnitRange | null;
  quantity: string;
  /** The credit it was carved off, when it is a part; null for an issued block. */
  partOf: string | null;
  beneficiary: string;
  reason: string | null;
  /** The API key ID that requested the retirement. */
  requestedBy: string;
  requestedAt: string;
  retiredAt: string;
  /** The `retired` event in the log: its position and its hash (a leaf of every later checkpoint). */
  retiredEvent: { position: string; hash: string };
};

type Retired = Extract<CreditState, { status: 'retired' }>;

/** What the certificate of `state`, retired by `event`, says. */
export function certificateOf(state: Retired, event: StoredEvent, issuer: string): RetirementCertificate {
  if (event.type !== 'retired' || event.creditId !== state.id) throw new Error(`event ${event.position} is not the retirement of ${state.id}`);
  const r = state.retirement;
  return {
    kind: 'retirement-certificate/v1',
    iss: issuer,
    creditId: state.id,
    registry: state.fields.registry,
    projectName: state.fields.projectName,
    vintage: state.fields.vintage,
    serialNumber: currentSerial(state),
    unitRange: state.units,
    quantity: state.quantity,
    partOf: state.parentId,
    beneficiary: r.beneficiary,
    reason: r.reason,
    requestedBy: r.requestedBy,
    requestedAt: r.requestedAt.toISOString(),
    retiredAt: r.retiredAt.toISOString(),
    retiredEvent: { position: event.position, hash: event.hash },
  };
}

/** Signs a payload as a compact JWS: {alg: EdDSA, kid, typ}, the payload as canonical JSON (keys sorted). */
export async function signPayload(payload: object, typ: string, key: SigningKey): Promise<string> {
  return new CompactSign(new TextEncoder().encode(canonicalJson(payload))).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ }).sign(key.privateKey);
}

export const signCertificate = (certificate: RetirementCertificate, key: SigningKey): Promise<string> => signPayload(certificate, CERTIFICATE_TYP, key);
