import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Orm } from '../server/db/orm.js';
import { createRegistry, registerDbPool, registerQueueDepth, registerWorkerMetrics } from '../server/ops/metrics.js';
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
  /** How long a scrape waits for Redis's job counts (READINESS_TIMEOUT_MS). */
  probeTimeoutMs?: number;
  /** Where the worker's metrics go (its /metrics); a registry of its own when not given. */
  registry?: Registry;
};

export type RunningWorker = {
  worker: Worker;
  /** The queue producer this worker re-enqueues with; its connection is what /readyz pings. */
  retirements: RetirementQueue;
  /** The worker's metrics (jobs, reconciler, queue depth, pool), for its /metrics. */
  registry: Registry;
  /** Null while the BullMQ worker runs, else what is wrong (for /readyz). */
  problem(): string | null;
  reconcileNow(): Promise<void>;
  close(): Promise<void>;
};

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

  const registry = opts.registry ?? createRegistry();
  const metrics = registerWorkerMetrics(registry);
  registerDbPool(registry, opts.orm);
  const worker = new Worker<RetirementJobData>(RETIREMENT_QUEUE, createRetirementProcessor({ ...opts, metrics }), {
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
  registerQueueDepth(registry, retirements, opts.probeTimeoutMs ?? 2000);
  worker.on('failed', (job, err) => {
    const requestId = job?.data.requestId;
    logger.warn({ ...(requestId ? { requestId } : {}), creditId: job?.data.creditId, attemptsMade: job?.attemptsMade, err: err.message }, 'retirement attempt failed');
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
  worker.on('stalled', (jobId) => {
    metrics.failure('worker_stalled');
    logger.warn({ creditId: jobId }, 'retirement job stalled: its worker stopped while holding it');
  });
  let running: Promise<void> | null = null;
  const reconcileNow = () => {
    running ??= reconcile(opts.orm.em.fork(), retirements, opts)
      .then((r) => {
        metrics.reconcileRun(r);
        if (r.enqueued > 0 || r.stalledOut > 0) logger.info(r, 'reconciler re-enqueued pending retirements or ended stalled-out ones');
      })
      .catch((err: Error) => {
        metrics.reconcileRun('error');
        logger.warn({ err: err.message }, 'reconcile failed; will try again');
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
  const timer = setInterval(() => void reconcileNow(), opts.reconcileIntervalMs);
  void reconcileNow();

  let closing = false;
  return {
    worker,
    retirements,
    registry,
    problem: () => (closing ? 'the worker is stopping' : worker.isRunning() ? null : 'the BullMQ worker is not running'),
    reconcileNow,
    async close() {
      closing = true;
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
