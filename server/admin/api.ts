import { createLedgerClient, ledgerError, type LedgerClient } from '../../client/index.js';
import type { ApiConfig } from './config.js';
import { CliError, EXIT, errorMessage } from './errors.js';

/** The published client, one HTTP request per call: an import has several 1000-item batches in flight. */
export const adminClient = (cfg: ApiConfig): LedgerClient => createLedgerClient({ url: cfg.url, apiKey: cfg.apiKey, batch: false });

/** A call that failed because of the key, the request or the connection, as the CLI reports it. */
export function apiFailure(err: unknown, cfg: ApiConfig): CliError {
  if (err instanceof CliError) return err;
  const e = ledgerError(err);
  switch (e.kind) {
    case 'UNAUTHORIZED':
      return new CliError(`the API refused the key (${e.message}); check --api-key / LEDGER_API_KEY`, EXIT.usage);
    case 'FORBIDDEN':
      return new CliError(`the key may not do this (${e.message}); the admin script needs an admin key`, EXIT.usage);
    case 'NETWORK':
      return new CliError(`cannot reach the ledger API at ${cfg.url}: ${errorMessage(err)}`, EXIT.usage);
    case 'NOT_FOUND':
    case 'CONFLICT':
      return new CliError(e.message, EXIT.failures);
    default:
      // No code: the failure is the script's own, not an answer of the API.
      return new CliError(e.code ? `${e.code}: ${e.message}` : `unexpected failure: ${errorMessage(err)}`, EXIT.usage);
  }
}
