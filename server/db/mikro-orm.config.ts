import { defineConfig } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { entities } from './entities.js';
import { Migration20261126000000_ledger } from './migrations/Migration20261126000000_ledger.js';
import { Migration20261201000000_key_audit } from './migrations/Migration20261201000000_key_audit.js';
import { Migration20261201000100_project_name_search } from './migrations/Migration20261201000100_project_name_search.js';
import { Migration20261201000200_least_privilege } from './migrations/Migration20261201000200_least_privilege.js';
import { Migration20261201000300_feed_watermark } from './migrations/Migration20261201000300_feed_watermark.js';
import { Migration20261201000400_blocks } from './migrations/Migration20261201000400_blocks.js';
import { Migration20261202000000_readiness } from './migrations/Migration20261202000000_readiness.js';

/**
 * Migrations are listed explicitly rather than globbed from disk so the same
 * list works under tsx, compiled JS and bundlers. Add new ones at the end.
 */
export const migrationsList = [
  { name: 'Migration20261126000000_ledger', class: Migration20261126000000_ledger },
  { name: 'Migration20261201000000_key_audit', class: Migration20261201000000_key_audit },
  { name: 'Migration20261201000100_project_name_search', class: Migration20261201000100_project_name_search },
  { name: 'Migration20261201000200_least_privilege', class: Migration20261201000200_least_privilege },
  { name: 'Migration20261201000300_feed_watermark', class: Migration20261201000300_feed_watermark },
  { name: 'Migration20261201000400_blocks', class: Migration20261201000400_blocks },
  { name: 'Migration20261202000000_readiness', class: Migration20261202000000_readiness },
];

export type OrmOptions = {
  poolMax?: number;
  /**
   * PostgreSQL's statement_timeout for every pooled connection, set by the pg
   * driver when it connects (DB_STATEMENT_TIMEOUT_MS for the API, the worker
   * and the admin script). null: no limit, for migrations only.
   */
  statementTimeoutMs: number | null;
  /**
   * PostgreSQL's lock_timeout for every pooled connection (DB_LOCK_TIMEOUT_MS),
   * so a write transaction needs no `SET LOCAL` round trip of its own to bound
   * its row-lock wait. Unset: PostgreSQL's default, no limit.
   */
  lockTimeoutMs?: number;
};

type DriverOptions = { connection?: { statement_timeout?: number; lock_timeout?: number } };

/** The lock_timeout every connection of this ORM starts with, if it sets one. */
export const sessionLockTimeoutMs = (config: { get(key: 'driverOptions'): unknown }): number | undefined =>
  (config.get('driverOptions') as DriverOptions | undefined)?.connection?.lock_timeout;

export function ormConfig(databaseUrl: string, options: OrmOptions) {
  return defineConfig({
    clientUrl: databaseUrl,
    entities,
    extensions: [Migrator],
    // migrate() reports what it applied; umzug's own console lines would only repeat it.
    migrations: { migrationsList, tableName: 'mikro_orm_migrations', transactional: true, allOrNothing: true, silent: true },
    // The schema changes only through committed migrations.
    ensureDatabase: false,
    allowGlobalContext: false,
    debug: false,
    pool: { min: 0, max: options.poolMax ?? 10 },
    // Passed to knex and on to pg.Client, which sends them in the startup packet.
    driverOptions: {
      connection: {
        ...(options.statementTimeoutMs === null ? {} : { statement_timeout: options.statementTimeoutMs }),
        ...(options.lockTimeoutMs === undefined ? {} : { lock_timeout: options.lockTimeoutMs }),
      },
    } satisfies DriverOptions,
    // Timestamps go to and come from PostgreSQL as timestamptz, always UTC.
    forceUtcTimezone: true,
  });
}
