import { setTimeout as sleep } from 'node:timers/promises';
import { ledgerError, type LedgerClient, type LedgerErrorKind, type LedgerOutputs } from '../../../client/index.js';
import { apiFailure } from '../api.js';
import type { ApiConfig } from '../config.js';
import { CliError, EXIT } from '../errors.js';

export type CreateManyResult = LedgerOutputs['credits']['createMany']['results'][number];

const MAX_ATTEMPTS = 5;

/** Transient failures are retried: creates are idempotent, so a repeat is harmless. */
const RETRYABLE: ReadonlySet<LedgerErrorKind> = new Set(['NETWORK', 'BUSY', 'INTERNAL']);

/**
 * credits.createMany for `items`, at most `maxItems` a call, with the answers
 * in the order of `items`. Transient failures are retried with backoff; a body
 * the API finds too large is sent again in halves.
 */
export async function sendAll(client: LedgerClient, cfg: ApiConfig, items: unknown[], maxItems: number): Promise<CreateManyResult[]> {
  if (items.length === 0) return [];
  if (items.length > maxItems) {
    const half = Math.ceil(items.length / 2);
    return [...(await sendAll(client, cfg, items.slice(0, half), maxItems)), ...(await sendAll(client, cfg, items.slice(half), maxItems))];
  }
  for (let attempt = 1; ; attempt++) {
    try {
      const { results } = await client.credits.createMany.mutate({ items });
      if (results.length !== items.length) throw new CliError(`the API answered ${results.length} of ${items.length} items`, EXIT.usage);
      return [...results].sort((a, b) => a.index - b.index);
    } catch (err) {
      const { kind } = ledgerError(err);
      // Rows with long fields can make 1000 of them exceed the API's body limit: halve and go on.
      if (kind === 'PAYLOAD_TOO_LARGE' && items.length > 1) return sendAll(client, cfg, items, Math.ceil(items.length / 2));
      if (!RETRYABLE.has(kind) || attempt >= MAX_ATTEMPTS) throw apiFailure(err, cfg);
      await sleep(200 * 2 ** attempt);
    }
  }
}
