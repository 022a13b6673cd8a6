/**
 * The ledger's two database roles, as SQL a superuser runs (the local
 * launcher through psql, the tests through pg):
 *
 *   ledger_owner  LOGIN; owns database `ledger` and every object in it; migrations run as it.
 *   ledger_app    LOGIN, nothing else; the API, the worker and the admin script log in as it.
 *                 What it may do to the tables is granted by the migration
 *                 Migration20261201000200_least_privilege.
 *
 * Neither is a superuser or may create databases, roles or replication
 * connections. server/db/postgres-init/10-ledger-roles.sh is the same for
 * docker compose, and the README's "Database roles" for a managed server.
 */

export const OWNER_ROLE = 'ledger_owner';
export const APP_ROLE = 'ledger_app';
export type LedgerRole = typeof OWNER_ROLE | typeof APP_ROLE;

export const LEDGER_DATABASE = 'ledger';

export type LedgerPasswords = { owner: string; app: string };

/** A string constant (standard_conforming_strings is on everywhere we run). */
export function sqlLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export function sqlIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Creates both roles if missing and (re)sets their attributes and passwords.
 * Idempotent, and safe when two launchers run it at once.
 */
export function ledgerRolesSql(passwords: LedgerPasswords): string {
  const role = (name: LedgerRole, password: string) => `
do $$
begin
  begin
    create role ${name};
  exception when duplicate_object or unique_violation then
    null; -- it exists (perhaps created a moment ago by another launcher)
  end;
end $$;
alter role ${name} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls inherit connection limit -1 password ${sqlLiteral(password)};`;
  return [role(OWNER_ROLE, passwords.owner), role(APP_ROLE, passwords.app)].join('\n');
}

/**
 * Run in the ledger database: makes ledger_owner own it, and gives
 * ledger_owner the tables, sequences, views and functions in schema public
 * that the bootstrap superuser owns (a database created and migrated by an
 * older version as postgres). Members of extensions stay as they are;
 * sequences and indexes follow their tables.
 */
export function ledgerDatabaseOwnershipSql(database: string): string {
  return `
alter database ${sqlIdent(database)} owner to ${OWNER_ROLE};
do $$
declare
  r record;
begin
  for r in
    select c.oid::regclass as name, c.relkind
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relowner = 'postgres'::regrole
       and c.relkind in ('r', 'p', 'f', 'v', 'm', 'S')
       and not exists (select 1 from pg_depend d
                        where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i', 'e'))
  loop
    execute format('alter %s %s owner to ${OWNER_ROLE}',
      case r.relkind when 'v' then 'view' when 'm' then 'materialized view' when 'S' then 'sequence' else 'table' end, r.name);
  end loop;
  for r in
    select p.oid::regprocedure as name
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'public' and p.proowner = 'postgres'::regrole
       and not exists (select 1 from pg_depend d
                        where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  loop
    execute format('alter routine %s owner to ${OWNER_ROLE}', r.name);
  end loop;
end $$;`;
}
