import { DomainError } from '../server/credits/errors.js';

/**
 * A failure reason is stored in the event log forever and shown to callers,
 * so it names the kind of fault, never the SQL or driver text behind it
 * (those go to the worker's log).
 */
export function describeTransientFault(err: unknown): string {
  if (err instanceof DomainError && err.code === 'CREDIT_BUSY') return 'the credit stayed locked by another transaction (lock timeout)';
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : '';
  if (code === '55P03' || /lock timeout/i.test(message)) return 'the credit stayed locked by another transaction (lock timeout)';
  if (code === '40001' || code === '40P01') return 'the database kept aborting the transaction (serialization failure or deadlock)';
  if (typeof code === 'string' && /^(08|57P)/.test(code)) return 'the database was unavailable';
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT') return 'the database was unreachable';
  if (/connection|terminat|ECONN|timeout/i.test(message)) return 'the database was unavailable';
  return 'an internal error';
}
