/**
 * Per-test-file isolation on the shared test servers: a private database
 * cloned from the migrated template, and a private BullMQ key prefix.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { OWNER_ROLE } from '../../server/dev/ledger-roles.js';
import { withPgClient } from './pg.js';

/** The template global-setup migrates once; cloning it is a file copy, not a migration run. */
export const TEMPLATE_DB = 'ledger_template';

/** The same server, another database. */
export function databaseUrl(serverUrl: string, db: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(db)}`;
  return url.toString();
}

/** The same server, another role. */
export function roleUrl(serverUrl: string, role: string, password: string): string {
  const url = new URL(serverUrl);
  url.username = role;
  url.password = password;
  return url.toString();
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export type TestDatabase = {
  /** The superuser on this database: for the tests' own inspection and tampering, never what the app uses. */
  url: string;
  /** ledger_app on this database: the app's DATABASE_URL. */
  appUrl: string;
  /** ledger_owner on this database (it owns the database and every table): what migrations run as. */
  ownerUrl: string;
  drop(): Promise<void>;
};

/**
 * A fresh, migrated database for one test file, owned by ledger_owner like
 * the template it is cloned from. Call `drop()` in afterAll; it force-closes
 * connections a test forgot, so it never hangs.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  const name = `t_${randomBytes(6).toString('hex')}`;
  await withPgClient(adminUrl, (c) =>
    c.query(`CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(OWNER_ROLE)} TEMPLATE ${quoteIdent(TEMPLATE_DB)}`),
  );
  return {
    url: databaseUrl(adminUrl, name),
    appUrl: databaseUrl(inject('pgAppUrl'), name),
    ownerUrl: databaseUrl(inject('pgOwnerUrl'), name),
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
