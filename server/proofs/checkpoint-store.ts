import type { EntityManager } from '@mikro-orm/postgresql';
import { CheckpointEntity, CheckpointLeafEntity, type CheckpointLeafRecord, type CheckpointRecord } from '../db/entities.js';
import { columns, insertValues, selectRows } from '../db/rows.js';
import type { FeedCursor } from '../credits/event-store.js';

/*
 * Every query on `checkpoints` and `checkpoint_leaves`, and the lean reads of
 * the feed that checkpoints and proofs are made from. Both tables are
 * append-only.
 */

const selectCheckpoints = (em: EntityManager, rest: string, params: unknown[]) =>
  selectRows(em, CheckpointEntity, `select ${columns(em, CheckpointEntity)} from checkpoints ${rest}`, params);

export async function latestCheckpoint(em: EntityManager): Promise<CheckpointRecord | null> {
  const [row] = await selectCheckpoints(em, 'order by size desc limit 1', []);
  return row ?? null;
}

export async function checkpointOfSize(em: EntityManager, size: string): Promise<CheckpointRecord | null> {
  const [row] = await selectCheckpoints(em, 'where size = ?', [size]);
  return row ?? null;
}

/** Newest first, below `beforeSize` when given. */
export const checkpointsBefore = (em: EntityManager, beforeSize: string | null, limit: number): Promise<CheckpointRecord[]> =>
  beforeSize === null ? selectCheckpoints(em, 'order by size desc limit ?', [limit]) : selectCheckpoints(em, 'where size < ? order by size desc limit ?', [beforeSize, limit]);

/** Oldest first, above `afterSize`: what verify walks. */
export const checkpointsAfter = (em: EntityManager, afterSize: string, limit: number): Promise<CheckpointRecord[]> =>
  selectCheckpoints(em, 'where size > ? order by size limit ?', [afterSize, limit]);

export async function insertCheckpoint(em: EntityManager, row: CheckpointRecord): Promise<void> {
  const { sql, params } = insertValues(em, CheckpointEntity, [row]);
  await em.execute(`insert into checkpoints ${sql}`, params);
}

/** Stored leaves from `fromIndex` on, in order. */
export const leavesFrom = (em: EntityManager, fromIndex: string, limit: number): Promise<CheckpointLeafRecord[]> =>
  selectRows(em, CheckpointLeafEntity, `select ${columns(em, CheckpointLeafEntity)} from checkpoint_leaves where leaf_index >= ? order by leaf_index limit ?`, [
    fromIndex,
    limit,
  ]);

/**
 * Stores the leaves of the feed after `after` up to and including `last`, numbered
 * from `firstIndex`, in one statement (the events never leave the server);
 * returns how many.
 */
export async function insertLeavesFromFeed(em: EntityManager, firstIndex: number, after: FeedCursor, last: FeedCursor): Promise<number> {
  const rows = await em.execute<{ n: string }[]>(
    `with stored as (
       insert into checkpoint_leaves (leaf_index, tx_id, position, credit_id, hash)
       select ?::bigint + row_number() over (order by tx_id, position) - 1, tx_id, position, credit_id, hash from events
       where (tx_id, position) > (?::xid8, ?) and (tx_id, position) <= (?::xid8, ?)
       returning 1)
     select count(*)::text as n from stored`,
    [firstIndex, after.txId, after.position, last.txId, last.position],
  );
  return Number(rows[0]?.n ?? 0);
}

/** A leaf of the feed as checkpoints see it: the event's place and its stored hash. */
export type FeedLeaf = { txId: string; position: string; hash: string };

/** The feed's leaves after `after`, below the watermark `upTo` (and up to `last` when given), in feed order. */
export async function feedLeaves(em: EntityManager, after: FeedCursor, limit: number, upTo: string, last?: FeedCursor): Promise<FeedLeaf[]> {
  return em.execute<FeedLeaf[]>(
    // Ordered by the columns, not by the text aliases of the output (which would put 10 before 2).
    `select e.tx_id::text as "txId", e.position::text as position, e.hash from events e
     where (e.tx_id, e.position) > (?::xid8, ?) and e.tx_id < ?::xid8 ${last ? 'and (e.tx_id, e.position) <= (?::xid8, ?)' : ''}
     order by e.tx_id, e.position limit ?`,
    [after.txId, after.position, upTo, ...(last ? [last.txId, last.position] : []), limit],
  );
}

/** An event with its leaf index in the feed: how many events come before it in (tx_id, position) order. */
export type IndexedEvent = FeedLeaf & { index: number; creditId: string; version: number; type: string };

export async function indexedEvent(em: EntityManager, position: string): Promise<IndexedEvent | null> {
  const [row] = await em.execute<(FeedLeaf & { n: string; creditId: string; version: number; type: string })[]>(
    `select e.tx_id::text as "txId", e.position::text as position, e.hash, e.credit_id as "creditId", e.version, e.type,
            (select count(*) from events b where (b.tx_id, b.position) < (e.tx_id, e.position))::text as n
     from events e where e.position = ?`,
    [position],
  );
  return row ? { txId: row.txId, position: row.position, hash: row.hash, creditId: row.creditId, version: row.version, type: row.type, index: Number(row.n) } : null;
}

/**
 * Only one checkpoint is made at a time, by whichever process gets this
 * transaction-scoped advisory lock; the others skip their turn. It guards
 * checkpoint making alone, never the write path.
 */
export async function tryCheckpointLock(em: EntityManager): Promise<boolean> {
  const [row] = await em.execute<{ locked: boolean }[]>(`select pg_try_advisory_xact_lock(hashtext('ledger:checkpoints')) as locked`);
  return row?.locked === true;
}

/** Which credit's event sits at `position` now, if any. */
export async function eventAtPosition(em: EntityManager, position: string): Promise<{ creditId: string; version: number; txId: string } | null> {
  const [row] = await em.execute<{ creditId: string; version: number; txId: string }[]>(
    `select credit_id as "creditId", version, tx_id::text as "txId" from events where position = ?`,
    [position],
  );
  return row ?? null;
}
