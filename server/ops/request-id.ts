import { randomUUID } from 'node:crypto';

/** The header a caller (or a proxy in front of us) may send, and that every answer carries. */
export const REQUEST_ID_HEADER = 'x-request-id';

/*
 * A caller's ID is kept only when it is short and made of characters that are
 * safe in a log line, a header and a job's data: otherwise a caller could
 * forge log lines (newlines), bloat every line, or smuggle markup into the
 * queue dashboard. Anything else is replaced by an ID of our own.
 */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const isSafeRequestId = (value: unknown): value is string => typeof value === 'string' && SAFE_REQUEST_ID.test(value);

/** The caller's X-Request-Id when it is safe, else a new UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return isSafeRequestId(header) ? header : randomUUID();
}
