/**
 * Rule violations the domain reports. Adapters map `code` to transport errors
 * in one place (server/trpc/errors.ts); the domain knows nothing of HTTP.
 */
export type DomainErrorCode =
  | 'CREDIT_NOT_FOUND'
  | 'ALREADY_RETIRED'
  | 'RETIREMENT_PENDING_DIFFERS'
  | 'NO_PENDING_RETIREMENT'
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
