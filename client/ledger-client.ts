import { createTRPCClient, httpBatchLink } from '@trpc/client';
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
