/**
 * Per-test-file isolation on the shared test servers: a private database
 * cloned from the migrated template, and a private BullMQ key prefix.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { withPgClient } from './pg.js';

/** The template global-setup migrates once; cloning it is a file copy, not a migration run. */
export const TEMPLATE_DB = 'ledger_template';

/** The same server, another database. */
export function databaseUrl(serverUrl: string, db: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(db)}`;
  return url.toString();
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * A fresh, migrated database for one test file. Call `drop()` in afterAll;
 * it force-closes connections a test forgot, so it never hangs.
 */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = inject('pgAdminUrl');
  const name = `t_${randomBytes(6).toString('hex')}`;
  await withPgClient(adminUrl, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(TEMPLATE_DB)}`));
  return {
    url: databaseUrl(adminUrl, name),
    drop: async () => {
      await withPgClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
    },
  };
}

/**
 * A BullMQ `prefix` no other test file uses, so parallel files can share one
 * Redis. Never FLUSHALL/FLUSHDB in tests: other files' queues live there too.
 */
export function testRedisPrefix(): string {
  return `test-${randomBytes(6).toString('hex')}`;
}

/**
 * Applies the schema migrations. Until server/db/migrate.ts exists this warns
 * and returns false instead of failing every run; any other error propagates.
 */
export async function migrateDatabase(url: string): Promise<boolean> {
  const mod = await import('../../server/db/migrate.js').catch((err: unknown) => {
    if (!isMissingMigrateModule(err)) throw err;
    return null;
  });
  if (!mod) {
    console.warn('server/db/migrate.ts does not exist yet: test databases are NOT migrated.');
    return false;
  }
  await mod.migrate(url);
  return true;
}

function isMissingMigrateModule(err: unknown): boolean {
  // Only the migrate module itself missing; a bad import *inside* it must still fail loudly.
  return /(Cannot find module|Failed to load url) '?[^\s']*server\/db\/migrate\.[jt]s['\s]/.test(String((err as Error)?.message));
}
