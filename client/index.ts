export {
  createLedgerClient,
  type Credit,
  type CreditHistoryEvent,
  type LedgerClient,
  type LedgerClientOptions,
  type LedgerInputs,
  type LedgerOutputs,
  type RetirementStatus,
} from './ledger-client.js';
export {
  ledgerError,
  ledgerErrorOf,
  isAlreadyRetired,
  isBadRequest,
  isBusy,
  isConflict,
  isForbidden,
  isInternal,
  isNetworkError,
  isNotFound,
  isPayloadTooLarge,
  isUnauthorized,
  type ConflictDetails,
  type FieldIssue,
  type LedgerError,
  type LedgerErrorCode,
  type LedgerErrorData,
  type LedgerErrorKind,
} from './errors.js';
export { retireAndWait, type RetireAndWaitOptions, type RetireAndWaitResult } from './retire-and-wait.js';
export { verifyCertificate, type CertificateVerification, type RetirementCertificate, type VerificationFailure } from './verify-certificate.js';
export {
  eventLeafHash,
  verifyCheckpoint,
  verifyConsistencyProof,
  verifyInclusionProof,
  type CheckpointPayload,
  type CheckpointVerification,
} from './verify-proofs.js';
