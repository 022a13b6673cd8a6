import type { EntityManager } from '@mikro-orm/postgresql';
import { initOrm, type Orm } from '../db/orm.js';
import { withRedis } from '../queue/redis-probe.js';
import { RetirementQueue } from '../queue/retirement-queue.js';
import { withTimeout } from '../queue/with-timeout.js';
import { lockTimeoutMs, statementTimeoutMs, type QueueConfig } from './config.js';
import { CliError, EXIT, errorMessage } from './errors.js';

/** Opens PostgreSQL, fails fast (exit 2) when it cannot be reached, and always closes it. */
export async function withDatabase<T>(url: string, fn: (em: EntityManager, orm: Orm) => Promise<T>): Promise<T> {
  const timeoutMs = statementTimeoutMs();
  let orm: Orm;
  try {
    orm = await initOrm(url, { poolMax: 4, statementTimeoutMs: timeoutMs, lockTimeoutMs: lockTimeoutMs() });
  } catch (err) {
    throw new CliError(`cannot open PostgreSQL (DATABASE_URL): ${errorMessage(err)}`, EXIT.usage);
  }
  try {
    const check = await orm.checkConnection();
    if (!check.ok) throw new CliError(`cannot reach PostgreSQL (DATABASE_URL): ${check.reason}`, EXIT.usage);
    return await fn(orm.em.fork(), orm);
  } finally {
    await orm.close(true);
  }
}

const REDIS_CONNECT_TIMEOUT_MS = 3000;

/** The retirement queue as the API and worker see it; fails fast (exit 2) when Redis is unreachable. */
export async function withQueue<T>(cfg: QueueConfig, fn: (retirements: RetirementQueue) => Promise<T>): Promise<T> {
  // Redis answers before anything else is built: the queue's own connection
  // retries forever (right for the API and worker, wrong for a CLI).
  await withRedis(cfg.redisUrl, (r) => r.ping(), REDIS_CONNECT_TIMEOUT_MS).catch((err: unknown) => {
    throw new CliError(`cannot reach Redis (REDIS_URL): ${errorMessage(err)}`, EXIT.usage);
  });
  const retirements = new RetirementQueue(cfg.redisUrl, { prefix: cfg.prefix, attempts: cfg.attempts });
  try {
    await withTimeout(retirements.queue.waitUntilReady(), REDIS_CONNECT_TIMEOUT_MS, 'connecting to Redis').catch((err: unknown) => {
      throw new CliError(`cannot reach Redis (REDIS_URL): ${errorMessage(err)}`, EXIT.usage);
    });
    return await fn(retirements);
  } finally {
    await withTimeout(retirements.close(), 2000, 'closing Redis').catch(() => undefined);
  }
}
