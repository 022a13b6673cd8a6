import type { EntityManager } from '@mikro-orm/postgresql';
import type { RetirementQueue } from '../server/queue/retirement-queue.js';

export type ReconcileResult = { pending: number; enqueued: number };

/**
 * Every request PostgreSQL holds as pending gets a live job. Job ID = credit
 * ID makes this safe to run at any time, in any number of processes: a job
 * that already exists is left alone.
 */
export async function reconcile(em: EntityManager, retirements: RetirementQueue, batchSize = 500): Promise<ReconcileResult> {
  let after = '';
  let pending = 0;
  let enqueued = 0;
  for (;;) {
    const rows = await em.execute<{ id: string }[]>(
      `select id from credits where retirement_state = 'pending' and id > ? order by id limit ?`,
      [after, batchSize],
    );
    for (const { id } of rows) {
      const { added } = await retirements.ensureJob(id);
      if (added) enqueued++;
    }
    pending += rows.length;
    const last = rows.at(-1);
    if (!last || rows.length < batchSize) return { pending, enqueued };
    after = last.id;
  }
}
