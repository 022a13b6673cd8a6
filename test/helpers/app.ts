import type { Server } from 'node:http';
import type { DestinationStream } from 'pino';
import { inject } from 'vitest';
import { createLedgerClient, type LedgerClient } from '../../client/index.js';
import type { Role } from '../../server/auth/roles.js';
import { loadEnv, secretsOf } from '../../server/env.js';
import { createLogger } from '../../server/logger.js';
import { startApiServer } from '../../server/api-server.js';
import { createTestDatabase, testRedisPrefix } from './test-db.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export type TestApp = {
  url: string;
  /**
   * The test database as the superuser: the tests' inspection and tampering
   * URL (editing rows, disabling triggers, renaming tables), not what the app
   * uses. The app connects as ledger_app: `env.DATABASE_URL`.
   */
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  /** The environment of the API under test, for workers and the admin script: DATABASE_URL is ledger_app's. */
  env: NodeJS.ProcessEnv;
  admin: LedgerClient;
  client(apiKey: string): LedgerClient;
  /** Creates a real API key with the role through the API and returns its client. */
  as(role: Role): Promise<{ client: LedgerClient; keyId: string; key: string }>;
  /** The API's HTTP server (its timeouts are settings). */
  server: Server;
  close(): Promise<void>;
};

/** Where the API under test logs (JSON lines, with the secrets of its env scrubbed as in production); silent by default. */
export type AppOptions = { logs?: DestinationStream };

/**
 * The real API on a random port, over its own freshly migrated database and
 * its own queue prefix, so test files never see each other's data.
 */
export async function startTestApp(extraEnv: Record<string, string> = {}, opts: AppOptions = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const redisUrl = extraEnv.REDIS_URL ?? inject('redisUrl');
  const app = await serveTestApp({ databaseUrl: db.url, appDatabaseUrl: db.appUrl, redisUrl, prefix: testRedisPrefix() }, extraEnv, opts);
  return {
    ...app,
    async close() {
      await app.close();
      await db.drop();
    },
  };
}

/**
 * The real API on a random port over the database, Redis and queue prefix it
 * is given, with `extraEnv` on top of the test env. It connects as the app
 * role (`appDatabaseUrl`); `databaseUrl` (a superuser's) is only handed back
 * for the tests. `close` stops the server and leaves the database and Redis
 * to their owner.
 */
export async function serveTestApp(
  { databaseUrl, appDatabaseUrl, redisUrl, prefix }: { databaseUrl: string; appDatabaseUrl: string; redisUrl: string; prefix: string },
  extraEnv: Record<string, string> = {},
  opts: AppOptions = {},
): Promise<TestApp> {
  const envVars: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: appDatabaseUrl,
    REDIS_URL: redisUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    ADMIN_API_KEY: ADMIN_KEY,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: opts.logs ? 'debug' : (process.env.TEST_LOG_LEVEL ?? 'silent'),
    ...extraEnv,
  };
  const env = loadEnv(envVars);
  const logger = createLogger('test-api', env.LOG_LEVEL, { secrets: secretsOf(env), ...(opts.logs ? { destination: opts.logs } : {}) });
  const running = await startApiServer(env, { databaseUrl: appDatabaseUrl, redisUrl }, logger);
  const client = (apiKey: string) => createLedgerClient({ url: running.url, apiKey });
  const admin = client(ADMIN_KEY);
  return {
    url: running.url,
    databaseUrl,
    redisUrl,
    prefix: env.QUEUE_PREFIX,
    env: envVars,
    admin,
    client,
    async as(role) {
      const { key, apiKey } = await admin.keys.create.mutate({ name: `test ${role}`, role });
      return { client: client(key), keyId: apiKey.id, key };
    },
    server: running.server,
    close: () => running.close(),
  };
}
