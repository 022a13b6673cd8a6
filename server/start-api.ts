import cluster from 'node:cluster';
import { once } from 'node:events';
import { startApiServer } from './api-server.js';
import { loadEnv, requireUrl, secretsOf } from './env.js';
import { createLogger } from './logger.js';
import { closeOnSignal } from './shutdown.js';

/**
 * `npm run server`: the API, against DATABASE_URL and REDIS_URL. With
 * API_PROCESSES > 1 this process only supervises that many API processes
 * sharing one port (node:cluster), so one machine's cores all serve; behind
 * a load balancer, run replicas instead.
 */
const env = loadEnv();
const logger = createLogger('api', env.LOG_LEVEL, { secrets: secretsOf(env) });

if (env.API_PROCESSES > 1 && cluster.isPrimary) {
  let stopping = false;
  const fork = () =>
    cluster.fork().on('exit', (code, signal) => {
      if (stopping) return;
      // One API process dying must not take the others down, nor leave the port short of one.
      logger.error({ code, signal }, 'an API process exited; starting another');
      fork();
    });
  for (let i = 0; i < env.API_PROCESSES; i++) fork();
  logger.info({ processes: env.API_PROCESSES }, 'API processes started');
  closeOnSignal(logger, { graceMs: 12_000, stopping: 'shutting down: each API process answers its requests in flight' }, async () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).flatMap((w) => (w ? [w] : []));
    // Disconnecting tells each API process to stop (see below); they exit once their requests are answered.
    await Promise.all(
      workers.map((w) => {
        const exited = once(w, 'exit');
        // One still starting has nothing in flight and no channel yet to be told on.
        if (w.isConnected()) w.disconnect();
        else w.process.kill('SIGKILL');
        return exited;
      }),
    );
  });
} else {
  const running = await startApiServer(env, { databaseUrl: requireUrl(env, 'DATABASE_URL'), redisUrl: requireUrl(env, 'REDIS_URL') }, logger);
  logger.info({ url: running.url }, `ledger API listening on ${running.url}/trpc`);
  if (!env.ADMIN_API_KEY) logger.warn('ADMIN_API_KEY is not set: only keys created earlier can call the API');
  else if (!env.BOOTSTRAP_ADMIN_KEY_ENABLED) logger.info('BOOTSTRAP_ADMIN_KEY_ENABLED=false: ADMIN_API_KEY is ignored');
  // Under a supervising process, signals are the supervisor's (a terminal's Ctrl-C reaches the whole group at once):
  // this process stops when the supervisor disconnects, or dies.
  const { stop } = closeOnSignal(
    logger,
    { graceMs: 10_000, stopping: 'shutting down: answering requests in flight', signals: cluster.isPrimary },
    () => running.close(),
  );
  if (cluster.isWorker) {
    process.once('disconnect', stop);
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => logger.debug({ signal }, 'signal left to the supervising process'));
  }
}
