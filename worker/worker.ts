import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Orm } from '../server/db/orm.js';
import { evictionPolicy, workerConnection } from '../server/queue/redis.js';
import { RETIREMENT_QUEUE, RetirementQueue, STALLED_OUT, type RetirementJobData } from '../server/queue/retirement-queue.js';
import { hasPendingRetirement } from '../server/credits/credit-store.js';
import { reconcile, settleIfStalledOut } from '../server/queue/reconcile.js';
import { createRetirementProcessor } from './retire-credit.js';

export type WorkerOptions = {
  orm: Orm;
  logger: Logger;
  redisUrl: string;
  prefix: string;
  concurrency: number;
  /** Retirements applied in one transaction, at most, and how long one waits for others (see retire-credit.ts). */
  batchSize: number;
  batchLingerMs: number;
  maxAttempts: number;
  reconcileIntervalMs: number;
  lockDurationMs: number;
  lockTimeoutMs: number;
  /** A job whose worker died more than this many times fails for good (RETIREMENT_MAX_STALLS). */
  maxStalls: number;
  /** Test-only fault injection (WORKER_TEST_HOLD_LOCK_MS); leave unset in production. */
  testHoldLockMs?: number;
};

export type RunningWorker = { worker: Worker; reconcileNow(): Promise<void>; close(): Promise<void> };

export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const { logger } = opts;
  const connection = workerConnection(opts.redisUrl);
  connection.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  try {
    const policy = await evictionPolicy(connection);
    if (policy !== 'noeviction') {
      logger.warn(
        { policy },
        `WARNING: Redis maxmemory-policy is '${policy}'; BullMQ needs 'noeviction' or Redis may silently drop jobs. Run: redis-cli CONFIG SET maxmemory-policy noeviction`,
      );
    }
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'could not read Redis maxmemory-policy');
  }

  const worker = new Worker<RetirementJobData>(RETIREMENT_QUEUE, createRetirementProcessor(opts), {
    connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    // A worker that dies holds its jobs only this long before another takes them.
    lockDuration: opts.lockDurationMs,
    stalledInterval: Math.max(1000, Math.floor(opts.lockDurationMs / 2)),
    maxStalledCount: opts.maxStalls,
  });
  worker.on('error', (err) => logger.warn({ err: err.message }, 'worker error'));
  const retirements = new RetirementQueue(opts.redisUrl, { prefix: opts.prefix, attempts: opts.maxAttempts });
  worker.on('failed', (job, err) => {
    logger.warn({ creditId: job?.data.creditId, attemptsMade: job?.attemptsMade, err: err.message }, 'retirement attempt failed');
    if (!job?.finishedOn) return;
    const creditId = job.data.creditId;
    if (STALLED_OUT.test(err.message)) {
      // Its workers kept dying on it: end the request rather than start it again.
      void settleIfStalledOut(opts.orm.em.fork(), retirements, creditId, opts)
        .then((settled) => settled && logger.warn({ creditId }, 'retirement failed for good: its job stalled out'))
        .catch((e: unknown) => logger.warn({ err: e, creditId }, 'could not end a stalled-out request; the reconciler will'));
      return;
    }
    // A new request that arrived while this job was still active could not add
    // a job (the ID was taken); now that it is finished, give that request one
    // at once instead of leaving it to the next reconcile.
    void requeueIfPending(opts, retirements, creditId);
  });
  worker.on('stalled', (jobId) => logger.warn({ creditId: jobId }, 'retirement job stalled: its worker stopped while holding it'));
  let running: Promise<void> | null = null;
  const reconcileNow = () => {
    running ??= reconcile(opts.orm.em.fork(), retirements, opts)
      .then((r) => {
        if (r.enqueued > 0 || r.stalledOut > 0) logger.info(r, 'reconciler re-enqueued pending retirements or ended stalled-out ones');
      })
      .catch((err: Error) => logger.warn({ err: err.message }, 'reconcile failed; will try again'))
      .finally(() => {
        running = null;
      });
    return running;
  };
  const timer = setInterval(() => void reconcileNow(), opts.reconcileIntervalMs);
  void reconcileNow();

  return {
    worker,
    reconcileNow,
    async close() {
      clearInterval(timer);
      // Waits for jobs in flight; takes no new ones meanwhile.
      await worker.close();
      await running;
      await retirements.close();
      connection.disconnect();
    },
  };
}

async function requeueIfPending(opts: WorkerOptions, retirements: RetirementQueue, creditId: string): Promise<void> {
  try {
    const em = opts.orm.em.fork();
    if (await hasPendingRetirement(em, creditId)) await retirements.ensureJob(creditId, { stillWanted: () => hasPendingRetirement(em, creditId) });
  } catch (err) {
    opts.logger.warn({ err: (err as Error).message, creditId }, 'could not re-enqueue after a failure; the reconciler will');
  }
}
