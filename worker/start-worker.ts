import { initOrm } from '../server/db/orm.js';
import { loadEnv, requireUrl, secretsOf } from '../server/env.js';
import { createLogger } from '../server/logger.js';
import { createRegistry } from '../server/ops/metrics.js';
import { checkReadiness } from '../server/ops/readiness.js';
import { closeOnSignal } from '../server/shutdown.js';
import { startWorkerHttp, type WorkerHttp } from './http.js';
import { testHoldLockMsFromEnv, workerOptionsFromEnv, workerPoolSize } from './options.js';
import { startWorker, type RunningWorker } from './worker.js';

/** `npm run worker`: one retirement worker, against DATABASE_URL and REDIS_URL. */
const env = loadEnv();
const logger = createLogger('worker', env.LOG_LEVEL, { secrets: secretsOf(env) });
const orm = await initOrm(requireUrl(env, 'DATABASE_URL'), { poolMax: workerPoolSize(env), statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS, lockTimeoutMs: env.DB_LOCK_TIMEOUT_MS });
const registry = createRegistry();
let running: RunningWorker | null = null;

// Before the BullMQ worker, which waits for Redis as long as it takes: the health check sees the process up
// (/healthz) and why it is not ready yet (/readyz) meanwhile.
let http: WorkerHttp | null = null;
if (env.WORKER_HTTP_PORT === undefined) {
  logger.info('WORKER_HTTP_PORT is not set: no /healthz, /readyz or /metrics for this worker');
} else {
  try {
    http = await startWorkerHttp({
      host: env.HOST,
      port: env.WORKER_HTTP_PORT,
      logger,
      registry,
      readiness: () =>
        checkReadiness({
          orm,
          pingRedis: () => (running ? running.retirements.ping() : Promise.reject(new Error('not connected yet'))),
          timeoutMs: env.READINESS_TIMEOUT_MS,
          more: { worker: () => (running ? running.problem() : 'the BullMQ worker is starting') },
        }),
    });
  } catch (err) {
    await orm.close();
    throw new Error(`WORKER_HTTP_PORT=${env.WORKER_HTTP_PORT} on HOST=${env.HOST}: ${(err as Error).message}`, { cause: err });
  }
  logger.info({ url: http.url }, `worker probes and metrics on ${http.url} (/healthz, /readyz, /metrics)`);
}

const testHoldLockMs = testHoldLockMsFromEnv();
if (testHoldLockMs > 0) logger.warn({ testHoldLockMs }, 'TEST-ONLY WORKER_TEST_HOLD_LOCK_MS is set: every attempt pauses holding its row lock');
running = await startWorker({ ...workerOptionsFromEnv(env), testHoldLockMs, orm, logger, registry, redisUrl: requireUrl(env, 'REDIS_URL') });
logger.info({ concurrency: env.WORKER_CONCURRENCY, prefix: env.QUEUE_PREFIX }, 'retirement worker started');

// Jobs in flight are finished first; past the lock duration another worker would take them over anyway.
closeOnSignal(logger, { graceMs: env.WORKER_LOCK_DURATION_MS, stopping: 'finishing jobs in flight, then exiting' }, async () => {
  // While it drains, /readyz says "stopping"; the port closes once the jobs are done.
  await running?.close();
  await http?.close();
  await orm.close();
});
