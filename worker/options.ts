import type { Env } from '../server/env.js';

/** The worker's pool: a connection for each job it runs at once, one for the reconciler, one spare. */
export function workerPoolSize(env: Env): number {
  const poolMax = env.DB_POOL_MAX ?? env.WORKER_CONCURRENCY + 2;
  if (poolMax < env.WORKER_CONCURRENCY + 1) {
    throw new Error(`DB_POOL_MAX (${poolMax}) must be at least WORKER_CONCURRENCY + 1 (${env.WORKER_CONCURRENCY + 1}): each job in flight holds a connection`);
  }
  return poolMax;
}

export const workerOptionsFromEnv = (env: Env) => ({
  prefix: env.QUEUE_PREFIX,
  concurrency: env.WORKER_CONCURRENCY,
  batchSize: env.WORKER_BATCH_SIZE,
  batchLingerMs: env.WORKER_BATCH_LINGER_MS,
  maxAttempts: env.RETIREMENT_MAX_ATTEMPTS,
  reconcileIntervalMs: env.RECONCILE_INTERVAL_MS,
  lockDurationMs: env.WORKER_LOCK_DURATION_MS,
  lockTimeoutMs: env.DB_LOCK_TIMEOUT_MS,
  maxStalls: env.RETIREMENT_MAX_STALLS,
  probeTimeoutMs: env.READINESS_TIMEOUT_MS,
});

/**
 * TEST-ONLY fault-injection knob, read straight from the process environment
 * (it is deliberately not part of server/env.ts's documented settings).
 * WORKER_TEST_HOLD_LOCK_MS makes every retirement attempt sleep this many
 * milliseconds right after it has taken the credit's row lock, inside its
 * transaction, so end-to-end tests can kill or stop a worker while it provably
 * holds the lock. Unset or 0 (the default) means no pause and no effect.
 * Never set it in production.
 */
export function testHoldLockMsFromEnv(source: NodeJS.ProcessEnv = process.env): number {
  const raw = source.WORKER_TEST_HOLD_LOCK_MS;
  if (raw === undefined || raw === '') return 0;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 0) throw new Error(`WORKER_TEST_HOLD_LOCK_MS must be a whole number of milliseconds >= 0, got ${JSON.stringify(raw)}`);
  return ms;
}
