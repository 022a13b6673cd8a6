import { createTRPCClient, httpBatchLink, httpLink, type TRPCClient } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
// Type-only: the client carries the server's types, never its code.
import type { AppRouter } from './server-types.js';

export type LedgerClientOptions = {
  /** Base URL of the ledger API, e.g. http://127.0.0.1:3000 (the /trpc path is added). */
  url: string;
  apiKey: string;
  fetch?: typeof globalThis.fetch;
  /**
   * Calls made in the same tick share one HTTP request (default true). false
   * sends every call as a request of its own: an importer that has several
   * 1000-item `credits.createMany` calls in flight must not have them
   * combined into one request body, past the API's body limit.
   */
  batch?: boolean;
};

// The return type is spelled out so the declarations name AppRouter rather than inline the server's router type.
export function createLedgerClient(opts: LedgerClientOptions): TRPCClient<AppRouter> {
  const base = opts.url.replace(/\/+$/, '');
  const link = {
    url: base.endsWith('/trpc') ? base : `${base}/trpc`,
    headers: () => ({ authorization: `Bearer ${opts.apiKey}` }),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  };
  return createTRPCClient<AppRouter>({
    links: [opts.batch === false ? httpLink(link) : httpBatchLink({ ...link, maxItems: 50 })],
  });
}

export type LedgerClient = TRPCClient<AppRouter>;

/** What each procedure accepts, e.g. `LedgerInputs['credits']['create']` (input types: quantity may be a number or a string). */
export type LedgerInputs = inferRouterInputs<AppRouter>;
/** What each procedure returns, e.g. `LedgerOutputs['credits']['get']`. */
export type LedgerOutputs = inferRouterOutputs<AppRouter>;
/** A credit as the API shows it: quantity a canonical decimal string, timestamps ISO-8601. */
export type Credit = LedgerOutputs['credits']['get']['credit'];
/** One event of a credit's history, oldest first in `credits.get`; `position` is a decimal string. */
export type CreditHistoryEvent = LedgerOutputs['credits']['get']['events'][number];
export type RetirementStatus = LedgerOutputs['credits']['retirementStatus'];
/** Where a credit came from and what was carved off it, as `credits.get` shows it. */
export type CreditLineage = LedgerOutputs['credits']['get']['lineage'];
/** `credits.split`'s answer: the part (`credit`), the credit it was carved off as it is now (`parent`), and whether this call carved it. */
export type SplitResult = LedgerOutputs['credits']['split'];
/** `credits.cancel`'s answer: the credit cancelled (the part, with `partOf`, when a quantity was given). */
export type CancelResult = LedgerOutputs['credits']['cancel'];
/** `credits.retire`'s answer: `creditId` and `jobId` name the part when a quantity was given, with `partOf`. */
export type RetireResult = LedgerOutputs['credits']['retire'];
/** `supply.totals`: issued, active, retired, cancelled and pending-retirement quantities as exact decimal strings. */
export type SupplyTotals = LedgerOutputs['supply']['totals'];
