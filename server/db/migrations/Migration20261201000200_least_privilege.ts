import { Migration } from '@mikro-orm/migrations';

/**
 * The app's database role may append history but never rewrite it.
 *
 * Two roles (created outside migrations, once per server: README "Database
 * roles"): `ledger_owner` owns the database and every table and runs the
 * migrations; `ledger_app` is what the API, the worker and the admin script
 * log in as. The app owns nothing, so it cannot disable a trigger, drop or
 * alter a table, or grant itself more; and it gets only these rights:
 *
 *   events, api_key_audit   SELECT, INSERT               (append-only)
 *   credits                 SELECT, INSERT, UPDATE, DELETE (the projection;
 *                           DELETE for rebuild-projections' orphan rows)
 *   api_keys                SELECT, INSERT, UPDATE       (revocation sets revoked_at)
 *   their sequences         USAGE                        (bigserial defaults: nextval)
 *   schema public           USAGE
 *
 * Tables later migrations create (as ledger_owner) are append-only for the
 * app by default; a migration that wants more grants it explicitly.
 */
export class Migration20261201000200_least_privilege extends Migration {
  override up(): void {
    this.addSql(`
      do $$
      begin
        if not exists (select 1 from pg_roles where rolname = 'ledger_app') then
          raise exception 'role ledger_app does not exist: create it before migrating (README, "Database roles": CREATE ROLE ledger_app LOGIN PASSWORD ...)'
            using errcode = 'P0001';
        end if;
        if not exists (select 1 from pg_roles where rolname = 'ledger_owner') then
          raise exception 'role ledger_owner does not exist: create it, make it own the database and migrate as it (README, "Database roles")'
            using errcode = 'P0001';
        end if;
      end $$`);

    // Nobody gets anything by default: not the tables, not the schema.
    this.addSql(`revoke all on all tables in schema public from public`);
    this.addSql(`revoke all on all sequences in schema public from public`);
    this.addSql(`revoke all on schema public from public`);

    this.addSql(`grant usage on schema public to ledger_app`);
    this.addSql(`revoke all on events, api_key_audit, credits, api_keys from ledger_app`);
    this.addSql(`grant select, insert on events, api_key_audit to ledger_app`);
    this.addSql(`grant select, insert, update, delete on credits to ledger_app`);
    this.addSql(`grant select, insert, update on api_keys to ledger_app`);
    this.addSql(`revoke all on sequence events_position_seq, api_key_audit_id_seq from ledger_app`);
    this.addSql(`grant usage on sequence events_position_seq, api_key_audit_id_seq to ledger_app`);

    this.addSql(`alter default privileges for role ledger_owner in schema public grant select, insert on tables to ledger_app`);
    this.addSql(`alter default privileges for role ledger_owner in schema public grant usage on sequences to ledger_app`);
  }
}
