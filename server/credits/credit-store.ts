import { LockMode, type EntityManager } from '@mikro-orm/postgresql';
import { CreditEntity, EventEntity, type CreditRecord, type CreditStatus, type EventRecord } from '../db/entities.js';
import { columns, insertValues, mapPrefixed, prefixedColumns, selectRows } from '../db/rows.js';
import type { NewEvent, StoredEvent } from './events.js';

/*
 * Every query on the `credits` table, the projection of each credit's events.
 * Rows are only ever written here, from projectionOf(replayed state).
 */

/**
 * A row as the driver mapped it, with its units as numbers: the result
 * mapping of raw SQL leaves a bigint column as the driver's string, and a
 * block's units are numbers everywhere else (the domain, the API).
 */
function withNumericUnits(row: CreditRecord): CreditRecord {
  const unitFirst = row.unitFirst == null ? null : Number(row.unitFirst);
  const unitLast = row.unitLast == null ? null : Number(row.unitLast);
  return unitFirst === row.unitFirst && unitLast === row.unitLast ? row : { ...row, unitFirst, unitLast };
}

const selectCreditRows = async (em: EntityManager, sql: string, params: unknown[]): Promise<CreditRecord[]> =>
  (await selectRows(em, CreditEntity, sql, params)).map(withNumericUnits);

const selectCredits = (em: EntityManager, where: string, params: unknown[]): Promise<CreditRecord[]> =>
  selectCreditRows(em, `select ${columns(em, CreditEntity)} from credits ${where}`, params);

/**
 * Inserts the credits that are new, each with its `created` event, in one
 * statement (so one round trip and one commit, however many): rows that
 * collide on the ID or on (registry, serial) are skipped, and so are their
 * events. A collision with an uncommitted row waits for it, so the caller
 * learns the committed outcome. Returns the IDs actually inserted.
 */
export async function insertNewCredits(em: EntityManager, items: { row: CreditRecord; created: NewEvent }[]): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  const credits = insertValues(
    em,
    CreditEntity,
    items.map((i) => i.row),
  );
  const events = insertValues(
    em,
    EventEntity,
    items.map((i) => i.created as Partial<EventRecord>),
    { typed: true },
  );
  const eventColumns = events.sql.slice(1, events.sql.indexOf(')'));
  const inserted = await em.execute<{ id: string }[]>(
    `with new_credits as (insert into credits ${credits.sql} on conflict do nothing returning id),
          new_events as (
            insert into events (${eventColumns})
            select e.* from (${events.sql.slice(events.sql.indexOf('values'))}) as e (${eventColumns})
            join new_credits c on c.id = e.credit_id
          )
     select id from new_credits`,
    [...credits.params, ...events.params],
  );
  return new Set(inserted.map((r) => r.id));
}

/** The statement that overwrites credits' rows (or writes them, when missing): for saveCredit, and inside larger statements. */
export function upsertCredits(em: EntityManager, rows: CreditRecord[]): { sql: string; params: unknown[] } {
  const { sql, params } = insertValues(em, CreditEntity, rows);
  const assignments = columns(em, CreditEntity)
    .split(', ')
    .filter((c) => c !== 'id')
    .map((c) => `${c} = excluded.${c}`)
    .join(', ');
  return { sql: `insert into credits ${sql} on conflict (id) do update set ${assignments}`, params };
}

/** Overwrites one credit's row (or writes it, when missing) with the replay of its events. */
export async function saveCredit(em: EntityManager, row: CreditRecord): Promise<void> {
  const { sql, params } = upsertCredits(em, [row]);
  await em.execute(sql, params);
}

export function findCredits(em: EntityManager, ids: string[]): Promise<CreditRecord[]> {
  return ids.length === 0 ? Promise.resolve([]) : selectCredits(em, 'where id in (?)', [ids]);
}

/** A credit's row and its events, oldest first, in one round trip; null when there is no row. */
export async function findCreditWithEvents(em: EntityManager, id: string): Promise<{ credit: CreditRecord; events: StoredEvent[] } | null> {
  const rows = await em.execute<Record<string, unknown>[]>(
    `select ${prefixedColumns(em, CreditEntity, 'c', 'c_')}, ${prefixedColumns(em, EventEntity, 'e', 'e_')}
     from credits c left join events e on e.credit_id = c.id where c.id = ? order by e.version`,
    [id],
  );
  const [first] = rows;
  const mapped = first ? mapPrefixed(em, CreditEntity, first, 'c_') : null;
  if (!mapped) return null;
  const credit = withNumericUnits(mapped);
  // Events pair `type` and `data` because only the event store writes them.
  const events = rows.flatMap((r) => mapPrefixed(em, EventEntity, r, 'e_') ?? []) as unknown as StoredEvent[];
  return { credit, events };
}

/** The credits `id` was carved off, nearest first, up to the issued block. */
export function ancestorsOf(em: EntityManager, id: string): Promise<CreditRecord[]> {
  return selectCreditRows(
    em,
    `with recursive up (id, parent_id, depth) as (
       select id, parent_id, 0 from credits where id = ?
       union all
       select c.id, c.parent_id, up.depth + 1 from credits c join up on c.id = up.parent_id where up.depth < 10000
     )
     select ${prefixedColumns(em, CreditEntity, 'c', '')} from credits c join up on up.id = c.id where up.depth > 0 order by up.depth`,
    [id],
  );
}

/** Rows of the same registry and block whose units overlap any of these ranges. */
export function findOverlapping(
  em: EntityManager,
  ranges: { registryKey: string; blockKey: string; unitFirst: number; unitLast: number }[],
): Promise<CreditRecord[]> {
  if (ranges.length === 0) return Promise.resolve([]);
  const tuple = `(registry_key = ? and block_key = ? and int8range(unit_first, unit_last, '[]') && int8range(?, ?, '[]'))`;
  return selectCredits(
    em,
    `where unit_first is not null and (${ranges.map(() => tuple).join(' or ')})`,
    ranges.flatMap((r) => [r.registryKey, r.blockKey, r.unitFirst, r.unitLast]),
  );
}

/** Rows holding any of these IDs or any of these (registryKey, serialKey) pairs. */
export function findByIdOrSerial(em: EntityManager, ids: string[], keys: { registryKey: string; serialKey: string }[]): Promise<CreditRecord[]> {
  if (ids.length === 0 && keys.length === 0) return Promise.resolve([]);
  const pairs = keys.length > 0 ? ` or (registry_key, serial_key) in (${keys.map(() => '(?, ?)').join(', ')})` : '';
  return selectCredits(em, `where id in (?)${pairs}`, [ids.length > 0 ? ids : [''], ...keys.flatMap((k) => [k.registryKey, k.serialKey])]);
}

/**
 * SELECT … FOR UPDATE on the credit's row: whoever holds it is the only
 * writer of that credit's stream until the transaction ends.
 */
export async function lockCredit(em: EntityManager, id: string): Promise<CreditRecord | null> {
  const row = await em.findOne(CreditEntity, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, disableIdentityMap: true });
  return row && withNumericUnits(row);
}

/**
 * Locks the rows of those credits that nobody else holds right now, without
 * waiting for the others (SKIP LOCKED), in ID order; returns the rows locked.
 * Absent from the answer: credits locked elsewhere, and credits without a row.
 */
export function lockFreeCredits(em: EntityManager, ids: string[]): Promise<CreditRecord[]> {
  return ids.length === 0 ? Promise.resolve([]) : selectCredits(em, 'where id in (?) order by id for update skip locked', [ids]);
}


export type CreditFilter = {
  /** Keyset cursor: rows strictly after this (createdAt, id). */
  after?: { createdAt: string; id: string };
  registryKey?: string;
  vintage?: number;
  status?: CreditStatus;
  /** Case-insensitive substring of the project name. */
  projectNameContains?: string;
};

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The registry, vintage and project-name conditions on credits (as `alias`), shared by the credit list and the supply totals. */
export function creditFilterClauses(filter: Pick<CreditFilter, 'registryKey' | 'vintage' | 'projectNameContains'>, alias?: string): { where: string[]; params: unknown[] } {
  const column = (name: string) => (alias ? `${alias}.${name}` : name);
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.registryKey !== undefined) {
    where.push(`${column('registry_key')} = ?`);
    params.push(filter.registryKey);
  }
  if (filter.vintage !== undefined) {
    where.push(`${column('vintage')} = ?`);
    params.push(filter.vintage);
  }
  if (filter.projectNameContains !== undefined) {
    where.push(`${column('project_name')} ilike ? escape '\\'`);
    params.push(`%${escapeLike(filter.projectNameContains)}%`);
  }
  return { where, params };
}

/** A page in (created_at, id) order, a total order that the page indexes follow. */
export function pageCredits(em: EntityManager, filter: CreditFilter, limit: number): Promise<CreditRecord[]> {
  const { where, params } = creditFilterClauses(filter);
  if (filter.after) {
    where.push('(created_at, id) > (?::timestamptz, ?)');
    params.push(filter.after.createdAt, filter.after.id);
  }
  if (filter.status !== undefined) {
    where.push('status = ?');
    params.push(filter.status);
  }
  return selectCredits(em, `${where.length ? `where ${where.join(' and ')}` : ''} order by created_at, id limit ?`, [...params, limit]);
}

/** IDs whose retirement request waits for a worker, in ID order after `afterId`. */
export async function pendingRetirementIds(em: EntityManager, afterId: string, limit: number): Promise<string[]> {
  const rows = await em.execute<{ id: string }[]>(
    `select id from credits where retirement_state = 'pending' and id > ? order by id limit ?`,
    [afterId, limit],
  );
  return rows.map((r) => r.id);
}

export async function hasPendingRetirement(em: EntityManager, id: string): Promise<boolean> {
  const rows = await em.execute<{ id: string }[]>(`select id from credits where id = ? and retirement_state = 'pending'`, [id]);
  return rows.length > 0;
}

/** Rows that no event explains, in ID order after `afterId`. */
export async function orphanCreditIds(em: EntityManager, afterId: string, limit: number): Promise<string[]> {
  const rows = await em.execute<{ id: string }[]>(
    `select c.id from credits c where c.id > ? and not exists (select 1 from events e where e.credit_id = c.id) order by c.id limit ?`,
    [afterId, limit],
  );
  return rows.map((r) => r.id);
}

/** Deletes the row if it still has no event; call under its row lock. Returns whether it was deleted. */
export async function deleteOrphanCredit(em: EntityManager, id: string): Promise<boolean> {
  const rows = await em.execute<{ id: string }[]>(
    `delete from credits c where c.id = ? and not exists (select 1 from events e where e.credit_id = c.id) returning c.id`,
    [id],
  );
  return rows.length > 0;
}
