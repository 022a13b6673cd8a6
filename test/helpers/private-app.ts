import { randomBytes } from 'node:crypto';
import { createLedgerClient } from '../../client/index.js';
import { migrate } from '../../server/db/migrate.js';
import { loadEnv } from '../../server/env.js';
import { createLogger } from '../../server/logger.js';
import { serve } from '../../server/serve.js';
import { ADMIN_KEY, type TestApp } from './app.js';

/**
 * Like startTestApp, but against the PostgreSQL database and Redis it is
 * given (typically a private stack's, for tests that stop those servers)
 * instead of a fresh database on the run's shared server. The database is
 * migrated first; it is not dropped on close (the stack owns it).
 */
export async function startAppOn(urls: { databaseUrl: string; redisUrl: string }, extraEnv: Record<string, string> = {}): Promise<TestApp> {
  await migrate(urls.databaseUrl);
  const prefix = `e2e_${randomBytes(6).toString('hex')}`;
  const envVars: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: urls.databaseUrl,
    REDIS_URL: urls.redisUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    ADMIN_API_KEY: ADMIN_KEY,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...extraEnv,
  };
  const env = loadEnv(envVars);
  const running = await serve(env, urls, createLogger('test-api', env.LOG_LEVEL));
  const client = (apiKey: string) => createLedgerClient({ url: running.url, apiKey });
  const admin = client(ADMIN_KEY);
  return {
    url: running.url,
    databaseUrl: urls.databaseUrl,
    redisUrl: urls.redisUrl,
    prefix: env.QUEUE_PREFIX,
    env: envVars,
    admin,
    client,
    async as(role) {
      const { key, apiKey } = await admin.keys.create.mutate({ name: `test ${role}`, role });
      return { client: client(key), keyId: apiKey.id, key };
    },
    close: () => running.close(),
  };
}
