import { initOrm } from '../server/db/orm.js';
import { loadEnv, requireUrl } from '../server/env.js';
import { createLogger } from '../server/logger.js';
import { testHoldLockMsFromEnv, workerOptionsFromEnv } from './options.js';
import { startWorker } from './run.js';

const env = loadEnv();
const logger = createLogger('worker', env.LOG_LEVEL);
const orm = await initOrm(requireUrl(env, 'DATABASE_URL'), { poolMax: env.WORKER_CONCURRENCY + 2 });
const testHoldLockMs = testHoldLockMsFromEnv();
if (testHoldLockMs > 0) logger.warn({ testHoldLockMs }, 'TEST-ONLY WORKER_TEST_HOLD_LOCK_MS is set: every attempt pauses holding its row lock');
const running = await startWorker({ ...workerOptionsFromEnv(env), testHoldLockMs, orm, logger, redisUrl: requireUrl(env, 'REDIS_URL') });
logger.info({ concurrency: env.WORKER_CONCURRENCY, prefix: env.QUEUE_PREFIX }, 'retirement worker started');

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'finishing jobs in flight, then exiting');
    void running
      .close()
      .then(() => orm.close())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  });
}
