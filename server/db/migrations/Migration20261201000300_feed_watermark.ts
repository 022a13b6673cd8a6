import { Migration } from '@mikro-orm/migrations';

/**
 * The global feed without a global lock. Each event records the ID of the
 * transaction that wrote it; the feed is read in (tx_id, position) order and
 * only up to the oldest transaction still running
 * (pg_snapshot_xmin(pg_current_snapshot())), so a reader never meets an event
 * behind its cursor that committed after it passed, while writers of
 * different credits commit in parallel. Events written before this migration
 * all get this migration's transaction ID and keep their position order.
 */
export class Migration20261201000300_feed_watermark extends Migration {
  override up(): void {
    this.addSql(`alter table events add column tx_id xid8 not null default pg_current_xact_id()`);
    this.addSql(`create index events_feed on events (tx_id, position)`);
  }
}
