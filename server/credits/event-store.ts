import type { EntityManager } from '@mikro-orm/postgresql';
import type { CreditEvent, RecordedEvent } from './events.js';
import { eventHash } from './event-hash.js';

export type StoredEvent = RecordedEvent & { position: string; prevHash: string | null; hash: string };

/** An `events` row as the driver returns it. */
export type EventDbRow = {
  position: string;
  credit_id: string;
  version: number;
  type: CreditEvent['type'];
  payload: CreditEvent['data'];
  actor: string;
  occurred_at: Date;
  prev_hash: string | null;
  hash: string;
};

/** Every column of `events`, in the order readers select them. */
export const EVENT_COLUMNS = 'position, credit_id, version, type, payload, actor, occurred_at, prev_hash, hash';

export function fromRow(r: EventDbRow): StoredEvent {
  return {
    position: String(r.position),
    creditId: r.credit_id,
    version: r.version,
    type: r.type,
    data: r.payload,
    actor: r.actor,
    occurredAt: new Date(r.occurred_at),
    prevHash: r.prev_hash,
    hash: r.hash,
  } as StoredEvent;
}

/** One credit's events, oldest first; optionally only those up to an instant. */
export async function readStream(em: EntityManager, creditId: string, until?: Date): Promise<StoredEvent[]> {
  const rows = until
    ? await em.execute<EventDbRow[]>(
        `select ${EVENT_COLUMNS} from events where credit_id = ? and occurred_at <= ? order by version`,
        [creditId, until],
      )
    : await em.execute<EventDbRow[]>(`select ${EVENT_COLUMNS} from events where credit_id = ? order by version`, [creditId]);
  return rows.map(fromRow);
}

/** The global feed in position order: positions are gap-tolerant, never reordered. */
export async function readAll(em: EntityManager, afterPosition: string, limit: number): Promise<StoredEvent[]> {
  const rows = await em.execute<EventDbRow[]>(
    `select ${EVENT_COLUMNS} from events where position > ? order by position limit ?`,
    [afterPosition, limit],
  );
  return rows.map(fromRow);
}

export type StreamHead = { version: number; hash: string | null };

export const headOf = (events: StoredEvent[]): StreamHead => {
  const last = events.at(-1);
  return { version: last?.version ?? 0, hash: last?.hash ?? null };
};

/**
 * Serialises appends across the whole log for the rest of the transaction, so
 * positions become visible in the order they were handed out: a feed reader
 * that has seen position N never later finds a new event below N.
 * Callers take row locks first and this last, so the lock order never inverts.
 */
export async function lockLogForAppend(em: EntityManager): Promise<void> {
  await em.execute(`select pg_advisory_xact_lock(7260112)`);
}

/**
 * Appends events after `head`, chaining their hashes. Must run inside a
 * transaction that has called lockLogForAppend. The (credit_id, version) key
 * turns a lost race into an error instead of a fork in history.
 */
export async function appendToStream(
  em: EntityManager,
  creditId: string,
  head: StreamHead,
  events: CreditEvent[],
  meta: { actor: string; now: Date },
): Promise<StoredEvent[]> {
  if (events.length === 0) return [];
  const rows: NewEventRow[] = [];
  let prev = head;
  for (const event of events) {
    const row = chainedRow(creditId, prev, event, meta);
    rows.push(row);
    prev = { version: row.version, hash: row.hash };
  }
  return insertEvents(em, rows);
}

/** The next link of a credit's chain: version and prevHash follow from the head. */
export function chainedRow(
  creditId: string,
  head: StreamHead,
  event: CreditEvent,
  meta: { actor: string; now: Date },
): NewEventRow {
  const base = {
    creditId,
    version: head.version + 1,
    type: event.type,
    payload: event.data,
    actor: meta.actor,
    occurredAt: meta.now,
    prevHash: head.hash,
  };
  return { ...base, hash: eventHash(base) };
}

export type NewEventRow = {
  creditId: string;
  version: number;
  type: CreditEvent['type'];
  payload: CreditEvent['data'];
  actor: string;
  occurredAt: Date;
  prevHash: string | null;
  hash: string;
};

/** A multi-row insert: one round trip however many events. */
export async function insertEvents(em: EntityManager, rows: NewEventRow[]): Promise<StoredEvent[]> {
  if (rows.length === 0) return [];
  const placeholders = rows.map(() => '(?, ?, ?, ?::jsonb, ?, ?, ?, ?)').join(', ');
  const params = rows.flatMap((r) => [
    r.creditId,
    r.version,
    r.type,
    JSON.stringify(r.payload),
    r.actor,
    r.occurredAt,
    r.prevHash,
    r.hash,
  ]);
  const inserted = await em.execute<EventDbRow[]>(
    `insert into events (credit_id, version, type, payload, actor, occurred_at, prev_hash, hash)
     values ${placeholders} returning ${EVENT_COLUMNS}`,
    params,
  );
  return inserted.map(fromRow);
}
