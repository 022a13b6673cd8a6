import { TRPCError } from '@trpc/server';
import type { z } from 'zod';
import { RateLimited } from '../auth/rate-limits.js';
import { DomainError, type DomainErrorCode } from '../credits/errors.js';

const DOMAIN_TO_TRPC: Record<DomainErrorCode, TRPCError['code']> = {
  CREDIT_NOT_FOUND: 'NOT_FOUND',
  ALREADY_RETIRED: 'CONFLICT',
  RETIREMENT_PENDING_DIFFERS: 'CONFLICT',
  NO_PENDING_RETIREMENT: 'CONFLICT',
  ALREADY_CANCELLED: 'CONFLICT',
  RETIREMENT_PENDING: 'CONFLICT',
  REQUEST_ID_REUSED: 'CONFLICT',
  INSUFFICIENT_QUANTITY: 'CONFLICT',
  INVALID_QUANTITY: 'BAD_REQUEST',
  CREDIT_BUSY: 'TOO_MANY_REQUESTS',
};

/** The one place domain rule violations become API errors. */
export function toTRPCError(err: DomainError): TRPCError {
  return new TRPCError({ code: DOMAIN_TO_TRPC[err.code], message: err.message, cause: err });
}

/** A conflict whose details (e.g. the existing credit's ID) the client can read. */
export function conflict(message: string, details: Record<string, unknown>): TRPCError {
  return new TRPCError({ code: 'CONFLICT', message, cause: new DomainDetails(message, details) });
}

class DomainDetails extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
  }
}

export type FieldIssue = { path: string; message: string };

/** Flattens a zod error to `a.b.0: message` pairs a client can show next to fields. */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(input)', message: i.message }));
}

export function detailsOf(cause: unknown): { domainCode?: string; details?: Record<string, unknown>; retryAfterMs?: number } {
  if (cause instanceof RateLimited) return { retryAfterMs: cause.retryAfterMs };
  if (cause instanceof DomainError) return { domainCode: cause.code, details: cause.details };
  if (cause instanceof DomainDetails) return { details: cause.details };
  return {};
}
