import type { LedgerClient } from './ledger-client.js';

type RetireAnswer = Awaited<ReturnType<LedgerClient['credits']['retire']['mutate']>>;
type Status = Awaited<ReturnType<LedgerClient['credits']['retirementStatus']['query']>>;

export type RetireAndWaitOptions = {
  /** Total time to wait for a final status, counted from the call; the request itself counts too. */
  timeoutMs: number;
  /** Wait before the first poll. Default 100 ms. */
  initialDelayMs?: number;
  /** The delay doubles after each poll up to this. Default 2000 ms. */
  maxDelayMs?: number;
};

export type RetireAndWaitResult = Status & {
  /**
   * true when `timeoutMs` ran out first: the status is then the last one
   * seen (`queued` or `processing`). The request stays accepted and the
   * worker still completes it; poll `retirementStatus` again later.
   */
  timedOut: boolean;
  /** The answer to the retire request itself (jobId, deduplicated, …). */
  request: RetireAnswer;
};

const FINAL: ReadonlySet<Status['status']> = new Set(['retired', 'failed']);
// The published client runs in browsers too, where node:timers/promises does not exist.
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Requests a retirement and waits for its outcome: calls `credits.retire`,
 * then polls `credits.retirementStatus` with exponential backoff
 * (`initialDelayMs`, doubling, capped at `maxDelayMs`) until it says
 * `retired` or `failed`, or `timeoutMs` has passed.
 *
 * - Final status: resolves with it and `timedOut: false`. `failed` is a
 *   result, not an exception: read `failedReason`; a new request may be made.
 * - Timeout: does NOT throw. Resolves with the last status seen and
 *   `timedOut: true` (one last poll is made at the deadline). The request is
 *   durable, so it still completes later.
 * - Errors of the request (NOT_FOUND, CONFLICT such as ALREADY_RETIRED,
 *   BAD_REQUEST, …) and of a poll are thrown as the client raised them;
 *   classify them with `ledgerError` from this package.
 *
 * @example
 * const r = await retireAndWait(client, id, { beneficiary: 'ACME' }, { timeoutMs: 30_000 });
 * if (r.status === 'retired') console.log(r.retiredAt);
 */
export async function retireAndWait(
  client: LedgerClient,
  id: string,
  retirement: { beneficiary: string; reason?: string | null },
  opts: RetireAndWaitOptions,
): Promise<RetireAndWaitResult> {
  const deadline = Date.now() + opts.timeoutMs;
  const maxDelay = Math.max(1, opts.maxDelayMs ?? 2000);
  let delay = Math.min(Math.max(1, opts.initialDelayMs ?? 100), maxDelay);

  const request = await client.credits.retire.mutate({ id, beneficiary: retirement.beneficiary, reason: retirement.reason ?? null });
  for (;;) {
    const remaining = deadline - Date.now();
    await sleep(Math.max(0, Math.min(delay, remaining)));
    const status = await client.credits.retirementStatus.query({ id });
    if (FINAL.has(status.status)) return { ...status, timedOut: false, request };
    if (Date.now() >= deadline) return { ...status, timedOut: true, request };
    delay = Math.min(delay * 2, maxDelay);
  }
}
