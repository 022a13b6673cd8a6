/**
 * Rule violations the domain reports. Adapters map `code` to transport errors
 * in one place (server/trpc/errors.ts); the domain knows nothing of HTTP.
 */
export type DomainErrorCode =
  | 'CREDIT_NOT_FOUND'
  | 'ALREADY_RETIRED'
  | 'RETIREMENT_PENDING_DIFFERS'
  | 'NO_PENDING_RETIREMENT'
  /** Cancelled units can never be retired, split or cancelled again. */
  | 'ALREADY_CANCELLED'
  /** A retirement is pending: the credit may not be split or cancelled until it ends. */
  | 'RETIREMENT_PENDING'
  /** The same requestId was used before with other values. */
  | 'REQUEST_ID_REUSED'
  /** More was asked of a credit than it holds. */
  | 'INSUFFICIENT_QUANTITY'
  /** A quantity that cannot apply to this credit (a fraction of a unit). */
  | 'INVALID_QUANTITY'
  /** The credit's row stayed locked longer than we wait; safe to retry. */
  | 'CREDIT_BUSY';

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
