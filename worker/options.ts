import type { Env } from '../server/env.js';

export const workerOptionsFromEnv = (env: Env) => ({
  prefix: env.QUEUE_PREFIX,
  concurrency: env.WORKER_CONCURRENCY,
  maxAttempts: env.RETIREMENT_MAX_ATTEMPTS,
  reconcileIntervalMs: env.RECONCILE_INTERVAL_MS,
  lockDurationMs: env.WORKER_LOCK_DURATION_MS,
  lockTimeoutMs: env.DB_LOCK_TIMEOUT_MS,
});
