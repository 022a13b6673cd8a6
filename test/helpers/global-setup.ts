/**
 * One PostgreSQL and one Redis for the whole test run (unless TEST_DATABASE_URL
 * / TEST_REDIS_URL name existing ones), and one migrated template database
 * that every test file clones. The PostgreSQL server gets the ledger's two
 * roles (passwords in memory); the template is owned by ledger_owner and
 * migrated as it, as in production.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureBinaries } from '../../server/dev/binaries.js';
import { startPostgres, type PgHandle } from '../../server/dev/postgres-server.js';
import { startRedis, type RedisHandle } from '../../server/dev/redis-server.js';
import type { ServiceName } from '../../server/dev/service-options.js';
import { APP_ROLE, ledgerRolesSql, OWNER_ROLE, type LedgerRole } from '../../server/dev/ledger-roles.js';
import { newPassword } from '../../server/dev/secrets.js';
import { buildEntryBundles, type EntryBundles } from './entry-points.js';
import { withPgClient } from './pg.js';
import { migrate } from '../../server/db/migrate.js';
import { TEMPLATE_DB, databaseUrl, quoteIdent, roleUrl } from './test-db.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The admin script, API and worker, each built once into one module (entry-points.ts). */
    entryBundles: EntryBundles;
    /** Superuser URL of the test server; tests create their databases (and tamper with them) through it. */
    pgAdminUrl: string;
    /** ledger_owner on the test server (any database: see test-db.ts's databaseUrl), what migrations run as. */
    pgOwnerUrl: string;
    /** ledger_app on the test server: what the API, workers and admin script under test connect as. */
    pgAppUrl: string;
    /** With its password. */
    redisUrl: string;
  }
}

const log = (msg: string) => console.log(`[test services] ${msg}`);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cleanups: Array<() => Promise<void>> = [];
  const teardown = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => console.error(err));
  };

  try {
    const externalPg = process.env.TEST_DATABASE_URL?.trim() || undefined;
    const externalRedis = process.env.TEST_REDIS_URL?.trim() || undefined;
    const needed: ServiceName[] = [];
    if (!externalPg) needed.push('postgres');
    if (!externalRedis) needed.push('redis');
    await ensureBinaries(needed, log);

    // allSettled: teardown must not run while the other server is still starting.
    const [pg, redis] = await Promise.allSettled([
      externalPg ? null : throwawayServer('pg', (dataDir) => startPostgres({ dataDir, log, ephemeral: true, secrets: 'memory' }), cleanups),
      externalRedis ? null : throwawayServer('redis', (dataDir) => startRedis({ dataDir, log, secrets: 'memory' }), cleanups),
    ]);
    if (pg.status === 'rejected') throw pg.reason;
    if (redis.status === 'rejected') throw redis.reason;
    const pgAdminUrl = externalPg ?? (pg.value as PgHandle).adminUrl('postgres');
    const roles = externalPg ? await ensureRolesOn(externalPg) : (role: LedgerRole) => (pg.value as PgHandle).roleUrl(role, 'postgres');
    const redisUrl = externalRedis ?? (redis.value as RedisHandle).url;

    const [, built] = await Promise.all([buildTemplate(pgAdminUrl, roles(OWNER_ROLE)), buildEntryBundles()]);
    cleanups.push(() => built.remove());
    project.provide('entryBundles', built.bundles);
    project.provide('pgAdminUrl', pgAdminUrl);
    project.provide('pgOwnerUrl', roles(OWNER_ROLE));
    project.provide('pgAppUrl', roles(APP_ROLE));
    project.provide('redisUrl', redisUrl);
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}

async function throwawayServer<H extends { stop(): Promise<void> }>(
  name: string,
  start: (dataDir: string) => Promise<H>,
  cleanups: Array<() => Promise<void>>,
): Promise<H> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `ledger-test-${name}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  // mkdtemp makes it 0700; the postgres OS user must be able to enter it.
  await chmod(dir, 0o755);
  const handle = await start(path.join(dir, 'data'));
  cleanups.push(() => handle.stop());
  return handle;
}

/**
 * TEST_DATABASE_URL (a superuser) names a server we did not start: create the
 * ledger's roles there if missing and give them new passwords for this run.
 */
async function ensureRolesOn(adminUrl: string): Promise<(role: LedgerRole) => string> {
  const passwords = { owner: newPassword(), app: newPassword() };
  await withPgClient(adminUrl, (c) => c.query(ledgerRolesSql(passwords)));
  const urls = {
    [OWNER_ROLE]: roleUrl(adminUrl, OWNER_ROLE, passwords.owner),
    [APP_ROLE]: roleUrl(adminUrl, APP_ROLE, passwords.app),
  };
  return (role) => urls[role];
}

/** Rebuilt every run so a changed migration is always what the tests see. */
async function buildTemplate(adminUrl: string, ownerUrl: string): Promise<void> {
  const began = Date.now();
  const template = quoteIdent(TEMPLATE_DB);
  await withPgClient(adminUrl, async (c) => {
    const { rows } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE_DB]);
    if (rows.length > 0) {
      // A template database cannot be dropped until it stops being one.
      await c.query(`ALTER DATABASE ${template} WITH IS_TEMPLATE false ALLOW_CONNECTIONS true`);
      await c.query(`DROP DATABASE ${template} WITH (FORCE)`);
    }
    await c.query(`CREATE DATABASE ${template} OWNER ${quoteIdent(OWNER_ROLE)}`);
  });
  await migrate(databaseUrl(ownerUrl, TEMPLATE_DB));
  await withPgClient(adminUrl, async (c) => {
    // Cloning fails while anyone is connected to the template, e.g. a pool migrate() left open.
    await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [TEMPLATE_DB]);
    await c.query(`ALTER DATABASE ${template} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
  });
  log(`template database ${TEMPLATE_DB} migrated in ${Date.now() - began} ms`);
}
