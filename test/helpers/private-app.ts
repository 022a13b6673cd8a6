import { randomBytes } from 'node:crypto';
import { migrate } from '../../server/db/migrate.js';
import { serveTestApp, type TestApp } from './app.js';

/**
 * Like startTestApp, but against the PostgreSQL database and Redis it is
 * given (typically a private stack's, for tests that stop those servers)
 * instead of a fresh database on the run's shared server. The database is
 * migrated first, as its owner (`migrationUrl`); the API connects as the app
 * role (`appDatabaseUrl`); `databaseUrl` (a superuser's) becomes the
 * TestApp's inspection URL. It is not dropped on close (the stack owns it).
 */
export async function startAppOn(
  urls: { databaseUrl: string; migrationUrl: string; appDatabaseUrl: string; redisUrl: string },
  extraEnv: Record<string, string> = {},
): Promise<TestApp> {
  await migrate(urls.migrationUrl);
  return serveTestApp(
    { databaseUrl: urls.databaseUrl, appDatabaseUrl: urls.appDatabaseUrl, redisUrl: urls.redisUrl, prefix: `e2e_${randomBytes(6).toString('hex')}` },
    extraEnv,
  );
}
