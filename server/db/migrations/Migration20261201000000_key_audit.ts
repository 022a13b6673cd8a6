import { Migration } from '@mikro-orm/migrations';

/**
 * Who created and who revoked which API key, when: an append-only trail next
 * to api_keys, written in the same transaction as the change it records.
 */
export class Migration20261201000000_key_audit extends Migration {
  override up(): void {
    this.addSql(`
      create table api_key_audit (
        id          bigserial primary key,
        at          timestamptz not null,
        actor       text not null check (actor <> ''),
        action      text not null check (action in ('created', 'revoked')),
        key_id      text not null,
        key_role    text not null check (key_role in ('issuer', 'retirer', 'auditor', 'admin')),
        key_name    text not null
      )`);
    this.addSql(`
      create function refuse_change_of_append_only() returns trigger language plpgsql as $$
      begin
        raise exception '% is append-only: % refused', tg_table_name, tg_op using errcode = 'P0001';
      end $$`);
    this.addSql(`
      create trigger api_key_audit_immutable before update or delete on api_key_audit
      for each row execute function refuse_change_of_append_only()`);
    this.addSql(`
      create trigger api_key_audit_no_truncate before truncate on api_key_audit
      for each statement execute function refuse_change_of_append_only()`);
  }
}
