import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { DatabaseError, Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../server/db/migrate.js';
import { initOrm } from '../../server/db/orm.js';
import { loadEnv } from '../../server/env.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-db.js';
import { openDb, withPgClient } from '../helpers/pg.js';

/*
 * History is as safe as the login the app uses. The API, the worker and the
 * admin script connect as ledger_app; here that role, connected straight to a
 * migrated database, tries every way to change history and every one is
 * refused by PostgreSQL's privileges (SQLSTATE 42501), before any trigger is
 * even asked. What the app needs still works.
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

let db: TestDatabase;
let app: Pool; // ledger_app
let su: Pool; // the superuser, to look without touching

const CREDIT_ID = `cc_${'5a'.repeat(32)}`;

beforeAll(async () => {
  db = await createTestDatabase();
  app = openDb(db.appUrl, 2);
  su = openDb(db.url, 2);
  // One credit with one event, written as the app would (through its own role).
  await app.query(
    `insert into credits (id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key, status, created_at, version)
     values ($1, 'Privileges', 'Verra', 2020, 1, 'PRIV-1', 'verra', 'priv-1', 'active', now(), 1)`,
    [CREDIT_ID],
  );
  await app.query(
    `insert into events (credit_id, version, type, payload, actor, occurred_at, prev_hash, hash)
     values ($1, 1, 'created', '{}'::jsonb, 'key_test', now(), null, 'h1')`,
    [CREDIT_ID],
  );
  await app.query(
    `insert into api_key_audit (at, actor, action, key_id, key_role, key_name) values (now(), 'key_test', 'created', 'key_x', 'auditor', 'x')`,
  );
});

afterAll(async () => {
  await app?.end();
  await su?.end();
  await db?.drop();
});

async function refusal(pool: Pool, sql: string): Promise<DatabaseError> {
  const client = await pool.connect();
  try {
    await client.query(sql);
  } catch (err) {
    return err as DatabaseError;
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
  throw new Error(`expected PostgreSQL to refuse ledger_app: ${sql}`);
}

const snapshot = async (table: string): Promise<unknown[]> => (await su.query<Record<string, unknown>>(`select * from ${table} order by 1`)).rows;

describe('ledger_app cannot change history', () => {
  const attempts = (table: 'events' | 'api_key_audit', trigger: string) => [
    `update ${table} set actor = 'mallory'`,
    `delete from ${table}`,
    `truncate ${table}`,
    `alter table ${table} disable trigger ${trigger}`,
    `alter table ${table} disable trigger all`,
    `alter table ${table} owner to ledger_app`,
    `drop table ${table}`,
    `create trigger sneaky before insert on ${table} for each row execute function suppress_redundant_updates_trigger()`,
    `begin; lock table ${table} in access exclusive mode`,
  ];

  it.each([...attempts('events', 'events_immutable'), ...attempts('api_key_audit', 'api_key_audit_immutable')])('refuses: %s', async (sql) => {
    const before = await snapshot(sql.includes('api_key_audit') ? 'api_key_audit' : 'events');
    const err = await refusal(app, sql);
    expect(err.code, err.message).toBe('42501');
    expect(await snapshot(sql.includes('api_key_audit') ? 'api_key_audit' : 'events')).toEqual(before);
  });

  it.each([
    'set session_replication_role = replica',
    'begin; set local session_replication_role = replica',
    'copy (select 1) to program $$true$$',
    `copy events to '/tmp/ledger-events-${randomBytes(4).toString('hex')}'`,
    'create table shadow (v text)',
    'create schema shadow',
    'create function public.shadow() returns int language sql as $$select 1$$',
    'grant ledger_owner to ledger_app',
    'grant pg_execute_server_program to ledger_app',
    'set role ledger_owner',
    'alter role ledger_app superuser',
    'alter role ledger_app bypassrls',
    'alter default privileges for role ledger_owner grant all on tables to ledger_app',
    // It may read which migrations ran (/readyz compares them with the code's), never change them.
    'delete from mikro_orm_migrations',
    `insert into mikro_orm_migrations (name) values ('Migration29990101000000_forged')`,
    `update mikro_orm_migrations set name = 'renamed'`,
    'truncate mikro_orm_migrations',
  ])('refuses: %s', async (sql) => {
    const err = await refusal(app, sql);
    expect(err.code, err.message).toBe('42501');
  });

  it('cannot take over its own database', async () => {
    const name = db.appUrl.split('/').pop() ?? '';
    expect((await refusal(app, `alter database "${name}" owner to ledger_app`)).code).toBe('42501');
    expect((await refusal(app, `drop database "${name}"`)).code).toBe('42501');
    expect((await refusal(app, `alter database "${name}" set session_replication_role = replica`)).code).toBe('42501');
  });

  it('a GRANT it has no grant option for grants nothing', async () => {
    await app.query('grant update, delete, truncate on events, api_key_audit to ledger_app').catch(() => undefined);
    const { rows } = await app.query<{ can: boolean }>(
      `select bool_or(has_table_privilege('ledger_app', t, p)) as can
         from unnest(array['events', 'api_key_audit']) t, unnest(array['UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES']) p`,
    );
    expect(rows[0]?.can).toBe(false);
  });

  it('is a plain login: not superuser, no attributes, member of nothing, owner of nothing', async () => {
    const { rows: [role] } = await su.query<Record<string, boolean>>(
      `select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin, rolinherit
         from pg_roles where rolname = 'ledger_app'`,
    );
    expect(role).toEqual({ rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolbypassrls: false, rolcanlogin: true, rolinherit: true });
    const count = async (sql: string) => Number((await su.query<{ n: string }>(sql)).rows[0]?.n);
    expect(await count(`select count(*) as n from pg_class c join pg_roles r on r.oid = c.relowner where r.rolname = 'ledger_app'`)).toBe(0);
    expect(await count(`select count(*) as n from pg_proc p join pg_roles r on r.oid = p.proowner where r.rolname = 'ledger_app'`)).toBe(0);
    expect(await count(`select count(*) as n from pg_namespace n join pg_roles r on r.oid = n.nspowner where r.rolname = 'ledger_app'`)).toBe(0);
    expect(await count(`select count(*) as n from pg_database d join pg_roles r on r.oid = d.datdba where r.rolname = 'ledger_app'`)).toBe(0);
    expect(await count(`select count(*) as n from pg_auth_members m join pg_roles r on r.oid = m.member where r.rolname = 'ledger_app'`)).toBe(0);
  });

  it('ledger_owner owns the database and every table; it is no superuser either', async () => {
    const { rows: [owner] } = await su.query<Record<string, boolean>>(`select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin from pg_roles where rolname = 'ledger_owner'`);
    expect(owner).toEqual({ rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolbypassrls: false, rolcanlogin: true });
    const { rows } = await su.query<{ owner: string }>(
      `select distinct pg_get_userbyid(relowner) as owner from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'S', 'i')
       union select pg_get_userbyid(datdba) from pg_database where datname = current_database()`,
    );
    expect(rows.map((r) => r.owner)).toEqual(['ledger_owner']);
  });
});

describe('ledger_app can do what the ledger needs', () => {
  it('holds exactly the grants of the least-privilege migration', async () => {
    const { rows } = await su.query<{ table_name: string; privileges: string }>(
      `select table_name, string_agg(privilege_type, ',' order by privilege_type) as privileges
         from information_schema.role_table_grants where grantee = 'ledger_app' group by table_name order by table_name`,
    );
    expect(rows).toEqual([
      { table_name: 'api_key_audit', privileges: 'INSERT,SELECT' },
      { table_name: 'api_keys', privileges: 'INSERT,SELECT,UPDATE' },
      { table_name: 'credits', privileges: 'DELETE,INSERT,SELECT,UPDATE' },
      { table_name: 'events', privileges: 'INSERT,SELECT' },
      { table_name: 'mikro_orm_migrations', privileges: 'SELECT' },
    ]);
    const { rows: seqs } = await su.query<{ relname: string; acl: string }>(
      `select relname, array_to_string(relacl, ' ') as acl from pg_class where relkind = 'S' and relnamespace = 'public'::regnamespace order by 1`,
    );
    for (const s of seqs) {
      if (s.relname === 'mikro_orm_migrations_id_seq') expect(s.acl).not.toContain('ledger_app');
      else expect(s.acl).toContain('ledger_app=U/ledger_owner');
    }
    // PUBLIC (every other role) has nothing on the tables or the schema.
    const { rows: publicGrants } = await su.query(`select table_name from information_schema.role_table_grants where grantee = 'PUBLIC' and table_schema = 'public'`);
    expect(publicGrants).toEqual([]);
    const { rows: [schema] } = await su.query<{ usage: boolean }>(`select has_schema_privilege('public', 'public', 'USAGE') as usage`);
    expect(schema?.usage).toBe(false);
  });

  it('reads and appends events and audit rows, and updates and deletes projection rows', async () => {
    expect((await app.query('select count(*)::int as n from events')).rows[0]).toEqual({ n: 1 });
    await app.query(
      `insert into events (credit_id, version, type, payload, actor, occurred_at, prev_hash, hash)
       values ($1, 2, 'retirement_requested', '{}'::jsonb, 'key_test', now(), 'h1', 'h2')`,
      [CREDIT_ID],
    );
    await app.query(`update credits set retirement_state = 'pending', version = 2 where id = $1`, [CREDIT_ID]);
    // What the command handler does: lock the projection row.
    await app.query('begin');
    await app.query('select id from credits where id = $1 for update', [CREDIT_ID]);
    await app.query('commit');
    await app.query(`update api_keys set revoked_at = now() where id = 'no-such-key'`);
    const other = `cc_${'6b'.repeat(32)}`;
    await app.query(
      `insert into credits (id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key, status, created_at, version)
       values ($1, 'Orphan', 'Verra', 2020, 1, 'PRIV-2', 'verra', 'priv-2', 'active', now(), 1)`,
      [other],
    );
    await app.query('delete from credits where id = $1', [other]);
    expect((await su.query('select version, retirement_state from credits where id = $1', [CREDIT_ID])).rows).toEqual([{ version: 2, retirement_state: 'pending' }]);
    expect((await su.query<{ n: number }>('select count(*)::int as n from events')).rows[0]?.n).toBe(2);
  });

  it('gets only SELECT and INSERT on tables a later migration adds, unless that migration grants more', async () => {
    await withPgClient(db.ownerUrl, (c) => c.query('create table later_table (id bigserial primary key, v text)'));
    const { rows } = await su.query<{ privileges: string }>(
      `select string_agg(privilege_type, ',' order by privilege_type) as privileges
         from information_schema.role_table_grants where grantee = 'ledger_app' and table_name = 'later_table'`,
    );
    expect(rows[0]?.privileges).toBe('INSERT,SELECT');
    await app.query(`insert into later_table (v) values ('appended')`);
    expect((await refusal(app, `update later_table set v = 'changed'`)).code).toBe('42501');
  });
});

describe('statement_timeout and lock_timeout on the app’s connections', () => {
  it('are set by the pg driver on every pooled connection (DB_STATEMENT_TIMEOUT_MS, DB_LOCK_TIMEOUT_MS)', async () => {
    const defaults = loadEnv({});
    expect(defaults.DB_STATEMENT_TIMEOUT_MS).toBe(60_000);
    const orm = await initOrm(db.appUrl, { poolMax: 3, statementTimeoutMs: defaults.DB_STATEMENT_TIMEOUT_MS, lockTimeoutMs: defaults.DB_LOCK_TIMEOUT_MS });
    try {
      // Three transactions at once hold three different pooled connections.
      const seen = await Promise.all(
        [1, 2, 3].map(() =>
          orm.em.fork().transactional(async (tx) => {
            const [row] = await tx.execute<{ statement_timeout: string; lock_timeout: string; pid: number }[]>(
              'select current_setting($$statement_timeout$$) as statement_timeout, current_setting($$lock_timeout$$) as lock_timeout, pg_backend_pid() as pid, pg_sleep(0.2)',
            );
            return row;
          }),
        ),
      );
      expect(new Set(seen.map((r) => r?.pid)).size).toBe(3);
      expect(seen.map((r) => r?.statement_timeout)).toEqual(['1min', '1min', '1min']);
      expect(seen.map((r) => r?.lock_timeout)).toEqual(['5s', '5s', '5s']);
      const [shown] = await orm.em.fork().execute<{ statement_timeout: string }[]>('show statement_timeout');
      expect(shown?.statement_timeout).toBe('1min');
    } finally {
      await orm.close(true);
    }
  });

  it('cancels a statement that runs longer', async () => {
    const orm = await initOrm(db.appUrl, { poolMax: 1, statementTimeoutMs: 1000 });
    try {
      const err = await orm.em
        .fork()
        .execute('select pg_sleep(3)')
        .then(
          () => null,
          (e: unknown) => e as { code?: string; message: string },
        );
      expect(err?.code ?? err?.message).toMatch(/57014|statement timeout/);
    } finally {
      await orm.close(true);
    }
  });
});

describe('migrating needs the owner', () => {
  it('as ledger_app, fails with one line saying to set MIGRATION_DATABASE_URL', async () => {
    const err = await migrate(db.appUrl).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^migrations need the role that owns the schema, but role "ledger_app" may not change it \(permission denied .*\): set MIGRATION_DATABASE_URL to the owner role \(ledger_owner\)/);
    expect(err?.message).not.toContain('\n');
  });

  const runMigrate = (env: NodeJS.ProcessEnv) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'server/db/run-migrations.ts'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('npm run migrate uses MIGRATION_DATABASE_URL, and without it says so in one line', async () => {
    const base = { ...process.env };
    delete base.MIGRATION_DATABASE_URL;
    const asApp = await runMigrate({ ...base, DATABASE_URL: db.appUrl });
    expect(asApp.code).toBe(1);
    expect(asApp.stderr.trim().split('\n')).toHaveLength(1);
    expect(asApp.stderr).toContain('set MIGRATION_DATABASE_URL to the owner role (ledger_owner)');

    const asOwner = await runMigrate({ ...base, DATABASE_URL: db.appUrl, MIGRATION_DATABASE_URL: db.ownerUrl });
    expect({ code: asOwner.code, stdout: asOwner.stdout.trim(), stderr: asOwner.stderr }).toEqual({ code: 0, stdout: 'database schema is up to date', stderr: '' });
  });
});
