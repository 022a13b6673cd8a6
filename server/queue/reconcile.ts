import type { EntityManager } from '@mikro-orm/postgresql';
import { hasPendingRetirement, pendingRetirementIds } from '../credits/credit-store.js';
import { failRetirement } from '../credits/retire.handler.js';
import { faultReason } from './failure-reason.js';
import type { RetirementQueue } from './retirement-queue.js';

export type ReconcileResult = {
  pending: number;
  enqueued: number;
  /** Requests ended as failed because their job stalled out (its workers kept dying on it). */
  stalledOut: number;
};

/**
 * Every request PostgreSQL holds as pending gets a live job, unless its job
 * stalled out: then the request is ended as failed, so a job that crashes
 * every worker that takes it is not retried forever. Job ID = credit ID makes
 * this safe to run at any time, in any number of processes: a job that
 * already exists is left alone. The worker runs it periodically; the admin
 * script on demand.
 */
export async function reconcile(
  em: EntityManager,
  retirements: RetirementQueue,
  opts: { lockTimeoutMs: number; batchSize?: number },
): Promise<ReconcileResult> {
  const batchSize = opts.batchSize ?? 500;
  const result: ReconcileResult = { pending: 0, enqueued: 0, stalledOut: 0 };
  let after = '';
  for (;;) {
    const ids = await pendingRetirementIds(em, after, batchSize);
    for (const id of ids) {
      if (await settleIfStalledOut(em, retirements, id, opts)) result.stalledOut++;
      else if ((await retirements.ensureJob(id, { stillWanted: () => hasPendingRetirement(em, id) })).added) result.enqueued++;
    }
    result.pending += ids.length;
    const last = ids.at(-1);
    if (!last || ids.length < batchSize) return result;
    after = last;
  }
}

/** When the credit's job stalled out, records the failure of the request it was added for; true if it did. */
export async function settleIfStalledOut(
  em: EntityManager,
  retirements: RetirementQueue,
  creditId: string,
  opts: { lockTimeoutMs: number },
): Promise<boolean> {
  const snap = await retirements.snapshot(creditId);
  if (!snap?.stalledOut) return false;
  const { appended } = await failRetirement(
    em.fork(),
    creditId,
    { reason: `gave up: ${faultReason('worker_stalled')}`, attempts: snap.attemptsMade, requestedBefore: new Date(snap.addedAt) },
    opts,
  );
  return appended.length > 0;
}
