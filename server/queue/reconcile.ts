import type { EntityManager } from '@mikro-orm/postgresql';
import { pendingRetirementIds } from '../credits/credit-store.js';
import type { RetirementQueue } from './retirement-queue.js';

export type ReconcileResult = { pending: number; enqueued: number };

/**
 * Every request PostgreSQL holds as pending gets a live job. Job ID = credit
 * ID makes this safe to run at any time, in any number of processes: a job
 * that already exists is left alone. The worker runs it periodically; the
 * admin script on demand.
 */
export async function reconcile(em: EntityManager, retirements: RetirementQueue, batchSize = 500): Promise<ReconcileResult> {
  let after = '';
  let pending = 0;
  let enqueued = 0;
  for (;;) {
    const ids = await pendingRetirementIds(em, after, batchSize);
    for (const id of ids) {
      const { added } = await retirements.ensureJob(id);
      if (added) enqueued++;
    }
    pending += ids.length;
    const last = ids.at(-1);
    if (!last || ids.length < batchSize) return { pending, enqueued };
    after = last;
  }
}
