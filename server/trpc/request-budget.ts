import { TRPCError } from '@trpc/server';

/*
 * What one HTTP request may ask for across all the calls batched into it:
 * each page is bounded per call, and the batch limit bounds the calls, but
 * without a shared budget fifty pages of a thousand events, or ten bulk
 * creates of a thousand credits, would still ride in one request.
 */

const REQUEST_BUDGET = {
  /** Rows read by the paged procedures (credits.list, events.list, keys.audit), summed over the request. */
  rowsRead: 5000,
  /** Credits created by credits.create / createMany, summed over the request: the documented bulk limit. */
  creditsCreated: 1000,
} as const;

export type BudgetKind = keyof typeof REQUEST_BUDGET;

export class RequestBudget {
  private readonly left: Record<BudgetKind, number> = { ...REQUEST_BUDGET };

  /** Takes `n` from the request's budget, or refuses the call (413) naming what was asked. */
  take(kind: BudgetKind, n: number, what: string): void {
    if (n > this.left[kind]) {
      const limit = REQUEST_BUDGET[kind];
      throw new TRPCError({
        code: 'PAYLOAD_TOO_LARGE',
        message: `${what} would take this request past ${limit} ${kind === 'rowsRead' ? 'rows read' : 'credits created'} in all; send fewer calls per batch or smaller pages`,
      });
    }
    this.left[kind] -= n;
  }
}
