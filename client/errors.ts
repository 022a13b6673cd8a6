import { isTRPCClientError, type TRPCClientError } from '@trpc/client';
// Type-only, like the router: nothing of the server ends up in a client bundle.
import type { AppRouter, DomainErrorCode } from './server-types.js';

/** `error.data` as the server's errorFormatter builds it (server/trpc/init.ts), inferred, not retyped. */
export type LedgerErrorData = NonNullable<TRPCClientError<AppRouter>['data']>;
/** A tRPC error code the server can answer with. */
export type LedgerErrorCode = LedgerErrorData['code'];
/** One invalid input field: `path` is dotted (`items.0.vintage`), `(input)` for the whole input. */
export type FieldIssue = NonNullable<LedgerErrorData['issues']>[number];

export type LedgerErrorKind =
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'PAYLOAD_TOO_LARGE'
  /**
   * Try again shortly: the credit is locked by other work (domainCode
   * CREDIT_BUSY), or the key went over its rate limit (TOO_MANY_REQUESTS;
   * `data.retryAfterMs` says when).
   */
  | 'BUSY'
  | 'INTERNAL'
  | 'NETWORK';

/** A block's units, both ends included. */
export type UnitRange = { first: number; last: number };

/** What a CONFLICT says about the credit that is in the way; which fields are set depends on `domainCode`. */
export type ConflictDetails = {
  /** create: another credit already holds this registry + serial number, or some of these units. */
  existingId?: string;
  /** create: the units the credit `existingId` already holds. */
  overlap?: UnitRange;
  /** ALREADY_RETIRED: when, for whom and why the credit was retired. */
  retiredAt?: string;
  beneficiary?: string;
  /** ALREADY_RETIRED: the retirement's reason; ALREADY_CANCELLED: the cancellation's. */
  reason?: string | null;
  /** ALREADY_CANCELLED: when the credit was cancelled. */
  cancelledAt?: string;
  /** RETIREMENT_PENDING_DIFFERS: which fields differ from the pending request, and that request (RETIREMENT_PENDING: the request). */
  differingFields?: string[];
  pending?: { beneficiary: string; reason: string | null };
  /** REQUEST_ID_REUSED, INSUFFICIENT_QUANTITY: the input field at fault (`quantity`). */
  field?: string;
  /** REQUEST_ID_REUSED: the requestId, what it carved the first time, and the part it made. */
  requestId?: string;
  quantity?: string;
  childId?: string;
  /** INSUFFICIENT_QUANTITY: what was asked for, and what the credit holds (exact decimal strings). */
  requested?: string;
  available?: string;
};

type Answered = {
  message: string;
  /** The tRPC code the server answered with (several map to one kind, e.g. PARSE_ERROR is BAD_REQUEST). */
  code: LedgerErrorCode;
  httpStatus: number;
  /** The procedure, e.g. `credits.create`; absent when the request never reached one. */
  path?: string;
  /** The error data exactly as the server sent it. */
  data: LedgerErrorData;
  cause: unknown;
};

export type LedgerError =
  | (Answered & { kind: 'NOT_FOUND'; domainCode?: DomainErrorCode })
  | (Answered & { kind: 'CONFLICT'; domainCode?: DomainErrorCode; details: ConflictDetails })
  /** Invalid input (`issues`), or a quantity that cannot apply to this credit (domainCode INVALID_QUANTITY). */
  | (Answered & { kind: 'BAD_REQUEST'; issues: FieldIssue[]; domainCode?: DomainErrorCode })
  | (Answered & { kind: 'UNAUTHORIZED' })
  | (Answered & { kind: 'FORBIDDEN' })
  | (Answered & { kind: 'PAYLOAD_TOO_LARGE' })
  | (Answered & { kind: 'BUSY'; domainCode?: DomainErrorCode })
  /**
   * The server failed (its message is generic on purpose), or, without
   * `code`, the error never was a ledger answer: a bug or local failure
   * in the caller's own code, passed to ledgerError by a broad `catch`.
   */
  | (Answered & { kind: 'INTERNAL' })
  | { kind: 'INTERNAL'; message: string; code?: undefined; cause: unknown }
  /** The ledger gave no error answer: connection refused, DNS, aborted, or a proxy's non-JSON page. */
  | { kind: 'NETWORK'; message: string; cause: unknown };

/** Exhaustive over the server's codes, so a code tRPC adds fails the build here rather than falling through. */
const KIND_OF: Record<LedgerErrorCode, Exclude<LedgerErrorKind, 'NETWORK'>> = {
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  BAD_REQUEST: 'BAD_REQUEST',
  PARSE_ERROR: 'BAD_REQUEST',
  UNPROCESSABLE_CONTENT: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  INTERNAL_SERVER_ERROR: 'INTERNAL',
  NOT_IMPLEMENTED: 'INTERNAL',
  BAD_GATEWAY: 'INTERNAL',
  SERVICE_UNAVAILABLE: 'INTERNAL',
  GATEWAY_TIMEOUT: 'INTERNAL',
  TIMEOUT: 'INTERNAL',
  PRECONDITION_FAILED: 'INTERNAL',
  PRECONDITION_REQUIRED: 'INTERNAL',
  METHOD_NOT_SUPPORTED: 'INTERNAL',
  UNSUPPORTED_MEDIA_TYPE: 'INTERNAL',
  TOO_MANY_REQUESTS: 'BUSY',
  CLIENT_CLOSED_REQUEST: 'INTERNAL',
  PAYMENT_REQUIRED: 'INTERNAL',
};

/** Every domain code, checked against the server's union in both directions at compile time. */
const DOMAIN_CODES = {
  CREDIT_NOT_FOUND: true,
  ALREADY_RETIRED: true,
  RETIREMENT_PENDING_DIFFERS: true,
  NO_PENDING_RETIREMENT: true,
  ALREADY_CANCELLED: true,
  RETIREMENT_PENDING: true,
  REQUEST_ID_REUSED: true,
  INSUFFICIENT_QUANTITY: true,
  INVALID_QUANTITY: true,
  CREDIT_BUSY: true,
} as const satisfies Record<DomainErrorCode, true>;

const isDomainCode = (code: unknown): code is DomainErrorCode => typeof code === 'string' && Object.hasOwn(DOMAIN_CODES, code);
const isCode = (code: unknown): code is LedgerErrorCode => typeof code === 'string' && Object.hasOwn(KIND_OF, code);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNullableString = (v: unknown): v is string | null => v === null || typeof v === 'string';

function fieldIssues(issues: unknown): FieldIssue[] {
  if (!Array.isArray(issues)) return [];
  return issues.flatMap((i: unknown) => (isRecord(i) && typeof i.path === 'string' && typeof i.message === 'string' ? [{ path: i.path, message: i.message }] : []));
}

/** `details` is an open record on the wire; keep only the fields that have the expected type. */
function conflictDetails(details: Record<string, unknown> | undefined): ConflictDetails {
  if (!details) return {};
  const out: ConflictDetails = {};
  if (typeof details.existingId === 'string') out.existingId = details.existingId;
  if (typeof details.retiredAt === 'string') out.retiredAt = details.retiredAt;
  if (typeof details.beneficiary === 'string') out.beneficiary = details.beneficiary;
  if (isNullableString(details.reason)) out.reason = details.reason;
  if (Array.isArray(details.differingFields)) out.differingFields = details.differingFields.filter((f): f is string => typeof f === 'string');
  const pending = details.pending;
  if (isRecord(pending) && typeof pending.beneficiary === 'string' && isNullableString(pending.reason)) {
    out.pending = { beneficiary: pending.beneficiary, reason: pending.reason };
  }
  const overlap = details.overlap;
  if (isRecord(overlap) && Number.isSafeInteger(overlap.first) && Number.isSafeInteger(overlap.last)) {
    out.overlap = { first: overlap.first as number, last: overlap.last as number };
  }
  for (const key of ['cancelledAt', 'field', 'requestId', 'quantity', 'childId', 'requested', 'available'] as const) {
    const value = details[key];
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Tells apart what a ledger call failed with. Accepts anything a `catch`
 * gives you: a client error without an error answer is NETWORK, and
 * anything that is not a client error at all is INTERNAL without `code`.
 */
export function ledgerError(err: unknown): LedgerError {
  if (!isTRPCClientError<AppRouter>(err)) return { kind: 'INTERNAL', message: messageOf(err), cause: err };
  if (!err.data) return { kind: 'NETWORK', message: messageOf(err.cause ?? err), cause: err };
  if (!isCode(err.data.code)) return { kind: 'INTERNAL', message: err.message, cause: err };
  const data = err.data;
  const base = {
    message: err.message,
    code: data.code,
    httpStatus: data.httpStatus,
    ...(typeof data.path === 'string' ? { path: data.path } : {}),
    data,
    cause: err,
  };
  const domainCode = isDomainCode(data.domainCode) ? { domainCode: data.domainCode } : {};
  const kind = KIND_OF[data.code];
  switch (kind) {
    case 'NOT_FOUND':
      return { ...base, kind, ...domainCode };
    case 'CONFLICT':
      return { ...base, kind, ...domainCode, details: conflictDetails(data.details) };
    case 'BAD_REQUEST':
      return { ...base, kind, issues: fieldIssues(data.issues), ...domainCode };
    case 'UNAUTHORIZED':
      return { ...base, kind };
    case 'FORBIDDEN':
      return { ...base, kind };
    case 'PAYLOAD_TOO_LARGE':
      return { ...base, kind };
    case 'BUSY':
      return { ...base, kind, ...domainCode };
    case 'INTERNAL':
      return { ...base, kind };
    default: {
      const unhandled: never = kind;
      throw new Error(`unhandled error kind ${String(unhandled)}`);
    }
  }
}

type Of<K extends LedgerErrorKind> = Extract<LedgerError, { kind: K }>;

/** The classified error when `err` is of that kind, otherwise undefined. */
export function ledgerErrorOf<K extends LedgerErrorKind>(err: unknown, kind: K): Of<K> | undefined {
  const e = ledgerError(err);
  return e.kind === kind ? (e as Of<K>) : undefined;
}

export const isNotFound = (err: unknown): boolean => ledgerError(err).kind === 'NOT_FOUND';
export const isConflict = (err: unknown): boolean => ledgerError(err).kind === 'CONFLICT';
export const isBadRequest = (err: unknown): boolean => ledgerError(err).kind === 'BAD_REQUEST';
export const isUnauthorized = (err: unknown): boolean => ledgerError(err).kind === 'UNAUTHORIZED';
export const isForbidden = (err: unknown): boolean => ledgerError(err).kind === 'FORBIDDEN';
export const isPayloadTooLarge = (err: unknown): boolean => ledgerError(err).kind === 'PAYLOAD_TOO_LARGE';
export const isBusy = (err: unknown): boolean => ledgerError(err).kind === 'BUSY';
export const isInternal = (err: unknown): boolean => ledgerError(err).kind === 'INTERNAL';
export const isNetworkError = (err: unknown): boolean => ledgerError(err).kind === 'NETWORK';
/** ALREADY_RETIRED conflict: retiring again with any beneficiary will not succeed. */
export const isAlreadyRetired = (err: unknown): boolean => {
  const e = ledgerError(err);
  return e.kind === 'CONFLICT' && e.domainCode === 'ALREADY_RETIRED';
};
