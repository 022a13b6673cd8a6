import type { EntityManager } from '@mikro-orm/postgresql';
import { EventEntity, type CreditRecord, type EventRecord } from '../db/entities.js';
import { columns, insertValues, selectRows } from '../db/rows.js';
import { creditFilterClauses, upsertCredits } from './credit-store.js';
import { eventHash } from './event-hash.js';
import type { CreditEvent, NewEvent, StoredEvent } from './events.js';

/*
 * Every query on the `events` table. The log is append-only: nothing here
 * updates or deletes, and the database refuses it anyway.
 */

// The domain's StoredEvent and the table's row must have the same fields.
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
const sameShape: SameKeys<StoredEvent, EventRecord> = true;
void sameShape;

/** Rows pair `type` and `data` because only the writers below put them there. */
const selectEvents = (em: EntityManager, where: string, params: unknown[]): Promise<StoredEvent[]> =>
  selectRows(em, EventEntity, `select ${columns(em, EventEntity)} from events ${where}`, params) as Promise<unknown> as Promise<StoredEvent[]>;

/** One credit's events, oldest first; optionally only those up to an instant. */
export function readStream(em: EntityManager, creditId: string, until?: Date): Promise<StoredEvent[]> {
  return until
    ? selectEvents(em, 'where credit_id = ? and occurred_at <= ? order by version', [creditId, until])
    : selectEvents(em, 'where credit_id = ? order by version', [creditId]);
}

/** The streams of several credits, each oldest first; credits without events are absent. */
export async function readStreams(em: EntityManager, creditIds: string[]): Promise<Map<string, StoredEvent[]>> {
  if (creditIds.length === 0) return new Map();
  return byCredit(await selectEvents(em, 'where credit_id in (?) order by credit_id, version', [creditIds]));
}

/** Events grouped into their credits' streams, each in the order given. */
export function byCredit(events: StoredEvent[]): Map<string, StoredEvent[]> {
  const streams = new Map<string, StoredEvent[]>();
  for (const e of events) {
    const list = streams.get(e.creditId);
    if (list) list.push(e);
    else streams.set(e.creditId, [e]);
  }
  return streams;
}

/** A place in the global feed: just after the event of this transaction at this position. */
export type FeedCursor = { txId: string; position: string };

export const FEED_START: FeedCursor = { txId: '0', position: '0' };

export const cursorOf = (e: Pick<StoredEvent, 'txId' | 'position'>): FeedCursor => ({ txId: e.txId, position: e.position });

/**
 * The settled part of the log, where nothing can appear any more: every event
 * of a transaction older than the oldest one still running. As a transaction
 * ID (xid8, a decimal string); events with tx_id below it are all committed
 * or gone for good.
 */
export async function feedWatermark(em: EntityManager): Promise<string> {
  const [row] = await em.execute<{ watermark: string }[]>(`select pg_snapshot_xmin(pg_current_snapshot())::text as watermark`);
  return row?.watermark ?? '0';
}

/**
 * The global feed: events in (transaction ID, position) order after
 * `after`, from settled transactions only (below `upTo`, by default the
 * current watermark). Writers of different credits commit in parallel and in
 * any order, yet a reader that follows the feed sees each event exactly once
 * and never finds one behind its cursor: an event is only shown once every
 * transaction that could still write one before it has finished.
 */
export function readFeed(em: EntityManager, after: FeedCursor, limit: number, upTo?: string): Promise<StoredEvent[]> {
  return selectEvents(
    em,
    `where (tx_id, position) > (?::xid8, ?) and tx_id < coalesce(?::xid8, pg_snapshot_xmin(pg_current_snapshot()))
     order by tx_id, position limit ?`,
    [after.txId, after.position, upTo ?? null, limit],
  );
}

/** How many settled events lie after `after` and below the watermark `upTo`. */
export async function countFeed(em: EntityManager, after: FeedCursor, upTo: string): Promise<number> {
  const [row] = await em.execute<{ n: string }[]>(`select count(*)::text as n from events where (tx_id, position) > (?::xid8, ?) and tx_id < ?::xid8`, [
    after.txId,
    after.position,
    upTo,
  ]);
  return Number(row?.n ?? 0);
}

/** The whole log stream by stream, in (credit, version) order, a page at a time: what `verify` walks. */
export function readByStream(em: EntityManager, after: { creditId: string; version: number } | null, limit: number): Promise<StoredEvent[]> {
  return after
    ? selectEvents(em, 'where (credit_id, version) > (?, ?) order by credit_id, version limit ?', [after.creditId, after.version, limit])
    : selectEvents(em, 'order by credit_id, version limit ?', [limit]);
}

/** IDs of credits that have a stream, in ID order after `afterId`: every stream starts at version 1. */
export async function streamIds(em: EntityManager, afterId: string, limit: number): Promise<string[]> {
  const rows = await em.execute<{ credit_id: string }[]>(
    'select credit_id from events where version = 1 and credit_id > ? order by credit_id limit ?',
    [afterId, limit],
  );
  return rows.map((r) => r.credit_id);
}

/** How many events, or how many streams (credits with events), the log holds. */
export async function countEvents(em: EntityManager, what: 'events' | 'streams' = 'events'): Promise<number> {
  const where = what === 'streams' ? 'where version = 1' : '';
  const [row] = await em.execute<{ n: string }[]>(`select count(*)::text as n from events ${where}`);
  return Number(row?.n ?? 0);
}

export type StreamHead = { version: number; hash: string | null };

export const headOf = (events: StoredEvent[]): StreamHead => {
  const last = events.at(-1);
  return { version: last?.version ?? 0, hash: last?.hash ?? null };
};

/** The next links of a credit's chain after `head`: versions and prevHash follow from it. */
export function chained(creditId: string, head: StreamHead, events: CreditEvent[], meta: { actor: string; now: Date }): NewEvent[] {
  const out: NewEvent[] = [];
  let prev = head;
  for (const event of events) {
    const unhashed = { ...event, creditId, version: prev.version + 1, actor: meta.actor, occurredAt: meta.now, prevHash: prev.hash };
    const next: NewEvent = { ...unhashed, hash: eventHash(unhashed) };
    out.push(next);
    prev = next;
  }
  return out;
}

/**
 * Appends events and writes the projection rows of the credits they belong to
 * in one statement (one round trip), inside the caller's transaction, which
 * holds those credits' row locks. `projections` may also hold rows to mend
 * that get no events. Returns the events as stored, in (credit, version) order.
 */
export async function appendWithProjections(em: EntityManager, events: NewEvent[], projections: CreditRecord[]): Promise<StoredEvent[]> {
  if (events.length === 0) {
    if (projections.length > 0) {
      const upsert = upsertCredits(em, projections);
      await em.execute(upsert.sql, upsert.params);
    }
    return [];
  }
  const ev = insertValues(em, EventEntity, events as Partial<EventRecord>[]);
  const upsert = projections.length > 0 ? upsertCredits(em, projections) : null;
  const stored = await selectRows(
    em,
    EventEntity,
    `with appended as (insert into events ${ev.sql} returning ${columns(em, EventEntity)})
          ${upsert ? `, projected as (${upsert.sql})` : ''}
     select * from appended order by credit_id, version`,
    [...ev.params, ...(upsert?.params ?? [])],
  );
  return stored as unknown as StoredEvent[];
}

export type SupplyFilter = { registryKey?: string; vintage?: number; projectNameContains?: string };
export type SupplyTotals = { issued: string; active: string; retired: string; cancelled: string; pendingRetirement: string };

/**
 * Quantities by state, from the events up to `at` (all of them without it).
 * Each credit counts what it held: its issued (or carved) quantity less the
 * parts split off it, so a block is counted once however often it was split;
 * `issued` counts issued blocks only. `pendingRetirement` is part of `active`.
 * Filters apply to the block's registry, vintage and project name, which its
 * parts share.
 */
export async function supplyTotals(em: EntityManager, filter: SupplyFilter, at?: Date): Promise<SupplyTotals> {
  const { where, params } = creditFilterClauses(filter, 'c');
  const [row] = await em.execute<SupplyTotals[]>(
    `with per_credit as (
       select e.credit_id,
         sum(case e.type when 'created' then (e.payload->>'quantity')::numeric
                         when 'split_from' then (e.payload->'fields'->>'quantity')::numeric else 0 end) as start,
         sum(case when e.type = 'split' then (e.payload->>'quantity')::numeric else 0 end) as carved,
         bool_or(e.type = 'created') as issued_block,
         bool_or(e.type = 'retired') as retired,
         bool_or(e.type = 'cancelled') as cancelled,
         (array_agg(e.type order by e.version desc)
            filter (where e.type in ('retirement_requested', 'retirement_failed', 'retired')))[1] = 'retirement_requested' as pending
       from events e
       ${where.length ? `join credits c on c.id = e.credit_id and ${where.join(' and ')}` : ''}
       where (?::timestamptz is null or e.occurred_at <= ?::timestamptz)
       group by e.credit_id
     )
     select trim_scale(coalesce(sum(start) filter (where issued_block), 0))::text as issued,
            trim_scale(coalesce(sum(start - carved) filter (where not retired and not cancelled), 0))::text as active,
            trim_scale(coalesce(sum(start - carved) filter (where retired), 0))::text as retired,
            trim_scale(coalesce(sum(start - carved) filter (where cancelled), 0))::text as cancelled,
            trim_scale(coalesce(sum(start - carved) filter (where pending), 0))::text as "pendingRetirement"
     from per_credit`,
    [...params, at ?? null, at ?? null],
  );
  return row ?? { issued: '0', active: '0', retired: '0', cancelled: '0', pendingRetirement: '0' };
}

export type SplitWithPart = {
  parentId: string;
  position: string;
  split: Extract<StoredEvent, { type: 'split' }>['data'];
  /** The part's first event's data, or null when the part has no stream. */
  part: Extract<StoredEvent, { type: 'split_from' }>['data'] | null;
};

/** Every split, with the first event of the part it names, a page at a time in position order. */
export async function splitsWithParts(em: EntityManager, afterPosition: string, limit: number): Promise<SplitWithPart[]> {
  const rows = await em.execute<{ parent_id: string; position: string; split: SplitWithPart['split']; part: SplitWithPart['part'] }[]>(
    `select s.credit_id as parent_id, s.position::text as position, s.payload as split, p.payload as part
     from events s left join events p on p.credit_id = s.payload->>'childId' and p.version = 1
     where s.type = 'split' and s.position > ? order by s.position limit ?`,
    [afterPosition, limit],
  );
  return rows.map((r) => ({ parentId: r.parent_id, position: r.position, split: r.split, part: r.part }));
}

/** Parts whose parent holds no split naming them. */
export async function orphanParts(em: EntityManager, limit: number): Promise<{ creditId: string; position: string; parentId: string }[]> {
  return em.execute(
    `select p.credit_id as "creditId", p.position::text as position, p.payload->>'parentId' as "parentId" from events p
     where p.type = 'split_from' and not exists (
       select 1 from events s where s.type = 'split' and s.credit_id = p.payload->>'parentId' and s.payload->>'childId' = p.credit_id)
     order by p.position limit ?`,
    [limit],
  );
}
