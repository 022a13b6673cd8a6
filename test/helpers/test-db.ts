/**
 * Per-test-file isolation on the shared test servers: a private database
 * cloned from the migrated template, and a private BullMQ key prefix.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { inject } from 'vitest';

/** The template global-setup migrates once; cloning it is a file copy, not a migration run. */
export const TEMPLATE_DB = 'ledger_template';

// `pg` ships no types and @types/pg is not a dependency, so we describe the
// little we use. It is present as a dependency of @mikro-orm/postgresql.
export interface PgClient {
  connect(): Promise<void>;
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): void;
}
interface PgModule {
  Client: new (config: { connectionString: string; connectionTimeoutMillis?: number }) => PgClient;
}
const pg = createRequire(import.meta.url)('pg') as PgModule;

/** Runs `fn` with a connected client and always closes it. */
export async function withPgClient<T>(url: string, fn: (client: PgClient) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // A server going away mid-test must surface as a failed query, not an uncaught 'error' event.
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

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
