import { DomainError } from '../credits/errors.js';

/*
 * A failure reason is stored in the event log forever and shown to callers,
 * so it is written by us: a stable code and a sentence, never the SQL, driver
 * or BullMQ text behind it (that goes to the worker's log).
 */

export const FAULT_CODES = ['lock_timeout', 'database_unavailable', 'database_conflict', 'worker_stalled', 'internal_error'] as const;
export type FaultCode = (typeof FAULT_CODES)[number];

const SENTENCE: Record<FaultCode, string> = {
  lock_timeout: 'the credit stayed locked by another transaction past the lock timeout',
  database_unavailable: 'the database was unavailable',
  database_conflict: 'the database kept aborting the transaction (serialization failure or deadlock)',
  worker_stalled: 'the worker processing it stopped before finishing',
  internal_error: 'an internal error',
};

/** "code (sentence)": what callers may see of a fault. */
export const faultReason = (code: FaultCode): string => `${code} (${SENTENCE[code]})`;

/** The kind of a transient fault, from its SQL state, driver code or message. */
export function faultCode(err: unknown): FaultCode {
  if (err instanceof DomainError && err.code === 'CREDIT_BUSY') return 'lock_timeout';
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : '';
  if (code === '55P03' || /lock timeout/i.test(message)) return 'lock_timeout';
  if (code === '40001' || code === '40P01') return 'database_conflict';
  if (typeof code === 'string' && /^(08|57P)/.test(code)) return 'database_unavailable';
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT') return 'database_unavailable';
  if (/connection|terminat|ECONN|timeout/i.test(message)) return 'database_unavailable';
  return 'internal_error';
}

/** The reason to show for a transient fault. */
export const describeTransientFault = (err: unknown): string => faultReason(faultCode(err));

/** A failed attempt's reason as BullMQ keeps it, made safe to show: anything we did not write becomes internal_error. */
export function publicAttemptReason(raw: string): string {
  if (FAULT_CODES.some((code) => raw.startsWith(`${code} (`))) return raw;
  if (/stalled/i.test(raw)) return faultReason('worker_stalled');
  return faultReason('internal_error');
}
