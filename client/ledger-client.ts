import { createTRPCClient, httpBatchLink } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
// Type-only: the client carries the server's types, never its code.
import type { AppRouter } from '../server/trpc/root.js';

export type LedgerClientOptions = {
  /** Base URL of the ledger API, e.g. http://127.0.0.1:3000 (the /trpc path is added). */
  url: string;
  apiKey: string;
  fetch?: typeof globalThis.fetch;
};

export function createLedgerClient(opts: LedgerClientOptions) {
  const base = opts.url.replace(/\/+$/, '');
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: base.endsWith('/trpc') ? base : `${base}/trpc`,
        headers: () => ({ authorization: `Bearer ${opts.apiKey}` }),
        ...(opts.fetch ? { fetch: opts.fetch } : {}),
        maxItems: 50,
      }),
    ],
  });
}

export type LedgerClient = ReturnType<typeof createLedgerClient>;

/** What each procedure accepts, e.g. `LedgerInputs['credits']['create']` (input types: quantity may be a number or a string). */
export type LedgerInputs = inferRouterInputs<AppRouter>;
/** What each procedure returns, e.g. `LedgerOutputs['credits']['get']`. */
export type LedgerOutputs = inferRouterOutputs<AppRouter>;
/** A credit as the API shows it: quantity a canonical decimal string, timestamps ISO-8601. */
export type Credit = LedgerOutputs['credits']['get']['credit'];
/** One event of a credit's history, oldest first in `credits.get`; `position` is a decimal string. */
export type CreditHistoryEvent = LedgerOutputs['credits']['get']['events'][number];
export type RetirementStatus = LedgerOutputs['credits']['retirementStatus'];
