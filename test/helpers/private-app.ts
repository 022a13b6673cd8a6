import { randomBytes } from 'node:crypto';
import { migrate } from '../../server/db/migrate.js';
import { serveTestApp, type TestApp } from './app.js';

/**
 * Like startTestApp, but against the PostgreSQL database and Redis it is
 * given (typically a private stack's, for tests that stop those servers)
 * instead of a fresh database on the run's shared server. The database is
 * migrated first; it is not dropped on close (the stack owns it).
 */
export async function startAppOn(urls: { databaseUrl: string; redisUrl: string }, extraEnv: Record<string, string> = {}): Promise<TestApp> {
  await migrate(urls.databaseUrl);
  return serveTestApp({ ...urls, prefix: `e2e_${randomBytes(6).toString('hex')}` }, extraEnv);
}
