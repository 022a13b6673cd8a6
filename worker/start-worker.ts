import { initOrm } from '../server/db/orm.js';
import { loadEnv, requireUrl } from '../server/env.js';
import { createLogger } from '../server/logger.js';
import { closeOnSignal } from '../server/shutdown.js';
import { testHoldLockMsFromEnv, workerOptionsFromEnv, workerPoolSize } from './options.js';
import { startWorker } from './worker.js';

/** `npm run worker`: one retirement worker, against DATABASE_URL and REDIS_URL. */
const env = loadEnv();
const logger = createLogger('worker', env.LOG_LEVEL);
const orm = await initOrm(requireUrl(env, 'DATABASE_URL'), { poolMax: workerPoolSize(env), statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS, lockTimeoutMs: env.DB_LOCK_TIMEOUT_MS });
const testHoldLockMs = testHoldLockMsFromEnv();
if (testHoldLockMs > 0) logger.warn({ testHoldLockMs }, 'TEST-ONLY WORKER_TEST_HOLD_LOCK_MS is set: every attempt pauses holding its row lock');
const running = await startWorker({ ...workerOptionsFromEnv(env), testHoldLockMs, orm, logger, redisUrl: requireUrl(env, 'REDIS_URL') });
logger.info({ concurrency: env.WORKER_CONCURRENCY, prefix: env.QUEUE_PREFIX }, 'retirement worker started');

// Jobs in flight are finished first; past the lock duration another worker would take them over anyway.
closeOnSignal(logger, { graceMs: env.WORKER_LOCK_DURATION_MS, stopping: 'finishing jobs in flight, then exiting' }, async () => {
  await running.close();
  await orm.close();
});
