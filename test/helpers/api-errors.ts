import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../server/trpc/root.js';

/** An error the API answered with, as the tRPC client raises it. */
export type ApiError = TRPCClientError<AppRouter>;

/**
 * The API error a call failed with; throws (failing the test) if it succeeded
 * or failed with something that is not an API answer.
 */
export async function rejectionOf(call: Promise<unknown>): Promise<ApiError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof TRPCClientError) return err as ApiError;
    throw err;
  }
  throw new Error('expected the call to be refused, but it succeeded');
}
