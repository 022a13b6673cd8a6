import { Migration } from '@mikro-orm/migrations';

/**
 * The ledger's schema. Constraints here are the last line of defence behind
 * the decider: even buggy code cannot edit history, mint a second credit for
 * one registry serial, or retire a credit twice.
 */
export class Migration20261126000000_ledger extends Migration {
  override up(): void {
    this.addSql(`
      create table events (
        position    bigserial primary key,
        credit_id   text not null,
        version     integer not null check (version >= 1),
        type        text not null check (type in ('created', 'retirement_requested', 'retirement_failed', 'retired')),
        payload     jsonb not null,
        actor       text not null check (actor <> ''),
        occurred_at timestamptz not null,
        prev_hash   text,
        hash        text not null,
        constraint events_credit_version_unique unique (credit_id, version),
        constraint events_first_has_no_prev check ((version = 1) = (prev_hash is null))
      )`);
    // At most one creation and one retirement per credit, whatever the code does.
    this.addSql(`create unique index events_one_created on events (credit_id) where type = 'created'`);
    this.addSql(`create unique index events_one_retired on events (credit_id) where type = 'retired'`);

    this.addSql(`
      create function events_refuse_change() returns trigger language plpgsql as $$
      begin
        raise exception 'events are append-only: % refused', tg_op using errcode = 'P0001';
      end $$`);
    this.addSql(`
      create trigger events_immutable before update or delete on events
      for each row execute function events_refuse_change()`);
    this.addSql(`
      create trigger events_no_truncate before truncate on events
      for each statement execute function events_refuse_change()`);

    this.addSql(`
      create table credits (
        id                    text primary key check (id ~ '^cc_[0-9a-f]{64}$'),
        project_name          text not null,
        registry              text not null,
        vintage               integer not null,
        quantity              numeric not null check (quantity > 0 and quantity <= 1e12 and scale(quantity) <= 6),
        serial_number         text not null,
        registry_key          text not null,
        serial_key            text not null,
        status                text not null check (status in ('active', 'retired')),
        retirement_state      text not null default 'none'
                              check (retirement_state in ('none', 'pending', 'failed', 'retired')),
        created_at            timestamptz not null,
        retired_at            timestamptz,
        version               integer not null,
        constraint credits_registry_serial_unique unique (registry_key, serial_key)
      )`);
    // Keyset pagination: (created_at, id) is a total order; filters ride on it.
    this.addSql(`create index credits_page on credits (created_at, id)`);
    this.addSql(`create index credits_registry_page on credits (registry_key, created_at, id)`);
    this.addSql(`create index credits_status_page on credits (status, created_at, id)`);
    this.addSql(`create index credits_vintage_page on credits (vintage, created_at, id)`);
    // The reconciler scans only what still waits for a worker.
    this.addSql(`create index credits_pending on credits (id) where retirement_state = 'pending'`);

    this.addSql(`
      create table api_keys (
        id          text primary key,
        name        text not null,
        role        text not null check (role in ('issuer', 'retirer', 'auditor', 'admin')),
        key_hash    text not null unique,
        created_at  timestamptz not null,
        created_by  text not null,
        revoked_at  timestamptz
      )`);
  }
}
