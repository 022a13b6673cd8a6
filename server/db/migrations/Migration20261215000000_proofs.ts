import { Migration } from '@mikro-orm/migrations';

/**
 * Signed proofs (server/proofs): retirement certificates, and checkpoints of
 * the whole log with the leaves each one covers. All three tables are
 * append-only, like the event log: the app's role gets SELECT and INSERT
 * (the default privileges of Migration20261201000200_least_privilege), and a
 * trigger refuses UPDATE, DELETE and TRUNCATE to anyone else.
 */
export class Migration20261215000000_proofs extends Migration {
  override up(): void {
    // One certificate per retired credit, issued in the transaction that appended its `retired` event.
    this.addSql(`
      create table retirement_certificates (
        credit_id         text primary key,
        retired_position  bigint not null unique,
        retired_hash      text not null check (retired_hash ~ '^[0-9a-f]{64}$'),
        kid               text not null,
        jws               text not null,
        issued_at         timestamptz not null
      )`);
    // A signed tree head over the first `size` events of the feed; `frontier` (the roots of the perfect subtrees
    // the size's binary digits describe) lets the next checkpoint carry on without reading the log again.
    this.addSql(`
      create table checkpoints (
        size             bigint primary key check (size > 0),
        root             text not null check (root ~ '^[0-9a-f]{64}$'),
        cursor_tx_id     xid8 not null,
        cursor_position  bigint not null,
        issued_at        timestamptz not null,
        kid              text not null,
        jws              text not null,
        frontier         jsonb not null
      )`);
    // The leaves the checkpoints cover, in feed order: which event each one was, and its hash when it was signed.
    // Checked against the signed roots, they name the first event that no longer matches a checkpoint.
    this.addSql(`
      create table checkpoint_leaves (
        leaf_index  bigint primary key check (leaf_index >= 0),
        tx_id       xid8 not null,
        position    bigint not null,
        credit_id   text not null,
        hash        text not null check (hash ~ '^[0-9a-f]{64}$')
      )`);
    for (const table of ['retirement_certificates', 'checkpoints', 'checkpoint_leaves']) {
      this.addSql(`create trigger ${table}_immutable before update or delete on ${table} for each row execute function refuse_change_of_append_only()`);
      this.addSql(`create trigger ${table}_no_truncate before truncate on ${table} for each statement execute function refuse_change_of_append_only()`);
    }
  }
}
