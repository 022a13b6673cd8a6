import type { EntityManager } from '@mikro-orm/postgresql';
import type { StoredEvent } from '../credits/events.js';
import type { ExistingCredit } from '../credits/state.js';
import { certificateOf, signCertificate } from './certificate.js';
import { insertCertificate } from './certificate-store.js';
import type { ProofSettings } from './signing-key.js';

/**
 * The worker's afterAppend hook (server/credits/command-handler.ts): when the
 * events just appended retire the credit, sign its certificate and store it
 * in the same transaction, so a `retired` event never commits without its
 * certificate, nor a certificate without its event.
 */
export function issueCertificateOnRetirement(proofs: ProofSettings) {
  return async (tx: EntityManager, appended: StoredEvent[], after: ExistingCredit): Promise<void> => {
    const retired = appended.find((e) => e.type === 'retired');
    if (!retired || after.status !== 'retired') return;
    const certificate = certificateOf(after, retired, proofs.issuer);
    const jws = await signCertificate(certificate, proofs.signer);
    await insertCertificate(tx, {
      creditId: after.id,
      retiredPosition: retired.position,
      retiredHash: retired.hash,
      kid: proofs.signer.kid,
      jws,
      issuedAt: after.retirement.retiredAt,
    });
  };
}
