import type { Server } from 'node:http';
import { createApp } from './app.js';
import { initOrm, type Orm } from './db/orm.js';
import type { Env } from './env.js';
import type { Logger } from './logger.js';
import { RetirementQueue } from './queue/retirement-queue.js';

export type RunningApi = { url: string; orm: Orm; close(): Promise<void> };

/** The API in this process: env → orm → queue producer → app → listen. */
export async function startApiServer(env: Env, urls: { databaseUrl: string; redisUrl: string }, logger: Logger): Promise<RunningApi> {
  const orm = await initOrm(urls.databaseUrl);
  const retirements = new RetirementQueue(urls.redisUrl, {
    prefix: env.QUEUE_PREFIX,
    attempts: env.RETIREMENT_MAX_ATTEMPTS,
    onError: (err) => logger.debug({ err: err.message }, 'redis producer error'),
  });
  const app = createApp({ orm, logger, retirements, lockTimeoutMs: env.DB_LOCK_TIMEOUT_MS, ...(env.ADMIN_API_KEY && env.BOOTSTRAP_ADMIN_KEY_ENABLED ? { adminApiKey: env.ADMIN_API_KEY } : {}) });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(env.PORT, env.HOST, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : env.PORT;
  return {
    url: `http://${env.HOST}:${port}`,
    orm,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await retirements.close();
      await orm.close();
    },
  };
}
