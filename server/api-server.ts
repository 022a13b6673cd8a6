import type { Server } from 'node:http';
import { createApp } from './app.js';
import { KeyResolver, resolveKey } from './auth/api-keys.js';
import { RateLimits } from './auth/rate-limits.js';
import { initOrm, type Orm } from './db/orm.js';
import { rateLimitSettings, type Env } from './env.js';
import type { Logger } from './logger.js';
import { createRegistry, registerDbPool, registerHttpMetrics, registerQueueDepth } from './ops/metrics.js';
import { checkReadiness } from './ops/readiness.js';
import { producerConnection } from './queue/redis.js';
import { RetirementQueue } from './queue/retirement-queue.js';

export type RunningApi = { url: string; orm: Orm; server: Server; close(): Promise<void> };

/** The API in this process: env → orm → queue producer and rate limits → app → listen. */
export async function startApiServer(env: Env, urls: { databaseUrl: string; redisUrl: string }, logger: Logger): Promise<RunningApi> {
  const orm = await initOrm(urls.databaseUrl, { poolMax: env.DB_POOL_MAX ?? 10, statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS, lockTimeoutMs: env.DB_LOCK_TIMEOUT_MS });
  const onRedisError = (err: Error) => logger.debug({ err: err.message }, 'redis producer error');
  const retirements = new RetirementQueue(urls.redisUrl, { prefix: env.QUEUE_PREFIX, attempts: env.RETIREMENT_MAX_ATTEMPTS, onError: onRedisError });
  const rateRedis = producerConnection(urls.redisUrl).on('error', onRedisError);
  const adminApiKey = env.ADMIN_API_KEY && env.BOOTSTRAP_ADMIN_KEY_ENABLED ? env.ADMIN_API_KEY : undefined;
  const registry = createRegistry();
  registerQueueDepth(registry, retirements, env.READINESS_TIMEOUT_MS);
  registerDbPool(registry, orm);
  const app = createApp({
    orm,
    logger,
    retirements,
    keys: new KeyResolver((token) => resolveKey(orm.em.fork(), token, adminApiKey), env.API_KEY_CACHE_MS),
    rateLimits: new RateLimits(rateRedis, env.QUEUE_PREFIX, rateLimitSettings(env)),
    lockTimeoutMs: env.DB_LOCK_TIMEOUT_MS,
    limits: { maxBodyBytes: env.MAX_BODY_BYTES, maxBatchSize: env.MAX_BATCH_SIZE },
    rest: { retireWaitMs: env.REST_RETIRE_WAIT_MS },
    ...(adminApiKey ? { adminApiKey } : {}),
    ops: {
      readiness: () => checkReadiness({ orm, pingRedis: () => retirements.ping(), timeoutMs: env.READINESS_TIMEOUT_MS }),
      registry,
      httpMetrics: registerHttpMetrics(registry),
    },
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(env.PORT, env.HOST, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  // A load balancer closes idle connections after its own timeout (60 s on common ones): the API must keep them open
  // longer, or a request the balancer sends on a connection the API is closing at that instant fails with a reset.
  server.keepAliveTimeout = env.HTTP_KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = env.HTTP_HEADERS_TIMEOUT_MS;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : env.PORT;
  return {
    url: `http://${env.HOST}:${port}`,
    orm,
    server,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await retirements.close();
      rateRedis.disconnect();
      await orm.close();
    },
  };
}
