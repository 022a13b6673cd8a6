import type { TRPCError } from '@trpc/server';
import { RateLimited } from '../auth/rate-limits.js';

/**
 * The Retry-After header for an answer that failed with these errors: the
 * rate limit's own wait, or 1 s for a credit busy under contention (any other
 * TOO_MANY_REQUESTS). Both /trpc and the REST facade send it.
 */
export function retryAfterHeaders(errors: readonly TRPCError[]): Record<string, string> {
  const limited = errors.map((e) => e.cause).find((c): c is RateLimited => c instanceof RateLimited);
  if (limited) return { 'retry-after': String(Math.max(1, Math.ceil(limited.retryAfterMs / 1000))) };
  return errors.some((e) => e.code === 'TOO_MANY_REQUESTS') ? { 'retry-after': '1' } : {};
}
