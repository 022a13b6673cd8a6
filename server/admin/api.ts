import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
// Type-only: the script carries the server's types, never its code, for API calls.
import type { AppRouter } from '../trpc/root.js';
import type { ApiConfig } from './config.js';
import { CliError, EXIT, errorMessage } from './errors.js';

/**
 * One HTTP request per call (no batching): an import sends 1000-item batches
 * concurrently, and batching them would put several into one request body,
 * past the API's body limit.
 */
export function createAdminClient(cfg: ApiConfig) {
  const base = cfg.url.replace(/\/+$/, '');
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: base.endsWith('/trpc') ? base : `${base}/trpc`,
        headers: () => ({ authorization: `Bearer ${cfg.apiKey}` }),
      }),
    ],
  });
}

export type AdminClient = ReturnType<typeof createAdminClient>;

/** The tRPC error code of a failed call (UNAUTHORIZED, BAD_REQUEST…), or null for a transport failure. */
export function apiErrorCode(err: unknown): string | null {
  if (err instanceof TRPCClientError) {
    const data = (err as TRPCClientError<AppRouter>).data as { code?: unknown } | undefined;
    return typeof data?.code === 'string' ? data.code : null;
  }
  return null;
}

/** A call that failed because of the key, the request or the connection, as the CLI reports it. */
export function apiFailure(err: unknown, cfg: ApiConfig): CliError {
  if (err instanceof CliError) return err;
  const code = apiErrorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'UNAUTHORIZED':
      return new CliError(`the API refused the key (${message}); check --api-key / LEDGER_API_KEY`, EXIT.usage);
    case 'FORBIDDEN':
      return new CliError(`the key may not do this (${message}); the admin script needs an admin key`, EXIT.usage);
    case null:
      return new CliError(`cannot reach the ledger API at ${cfg.url}: ${errorMessage(err)}`, EXIT.usage);
    case 'NOT_FOUND':
    case 'CONFLICT':
      return new CliError(message, EXIT.failures);
    default:
      return new CliError(`${code}: ${message}`, EXIT.usage);
  }
}
