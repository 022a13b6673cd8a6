import type { EntityManager } from '@mikro-orm/postgresql';
import { TRPCError } from '@trpc/server';
import type { CreditRecord } from '../db/entities.js';
import { creditId } from './canonical-id.js';
import { findByIdOrSerial, findOverlapping, insertNewCredits } from './credit-store.js';
import { conflict } from '../trpc/errors.js';
import { decide } from './decider.js';
import { chained } from './event-store.js';
import type { CreditFields, NewEvent } from './events.js';
import { creditView, projectionOf, type CreditView } from './projection.js';
import { initialState, replay } from './state.js';

export type CreateOutcome =
  | { outcome: 'created'; credit: CreditView }
  | { outcome: 'existing'; credit: CreditView }
  | { outcome: 'conflict'; existingId: string; message: string; overlap?: { first: number; last: number } };

type Prepared = { id: string; serialKey: string; row: CreditRecord; created: NewEvent };

/** Registry and serial together: the natural key a credit's row is unique on. */
const naturalKey = (r: Pick<CreditRecord, 'registryKey' | 'serialKey'>) => JSON.stringify([r.registryKey, r.serialKey]);

function prepare(fields: CreditFields, actor: string, now: Date): Prepared {
  const id = creditId(fields);
  const [event] = decide({ type: 'create', fields }, initialState());
  if (!event) throw new Error('create on an absent credit must produce an event');
  const state = replay([{ ...event, creditId: id, version: 1, actor, occurredAt: now }]);
  if (state.status === 'absent') throw new Error('created event must bring the credit into existence');
  const row = projectionOf(state);
  const [created] = chained(id, { version: 0, hash: null }, [event], { actor, now });
  if (!created) throw new Error('a created event must chain');
  return { id, serialKey: naturalKey(row), row, created };
}

/** Whether `earlier`, once created, stands in the way of `later` (in one batch): the same ID, the same serial, or shared units. */
const standsInWayOf = (earlier: Prepared, later: Prepared): boolean =>
  earlier.id === later.id || earlier.serialKey === later.serialKey || overlap(earlier.row, later.row) !== null;

/** Items that go in together, none in another's way; `admit` looks up IDs, serials and blocks, so a batch costs O(n). */
class Round {
  readonly items: Prepared[] = [];
  private readonly ids = new Set<string>();
  private readonly serials = new Set<string>();
  private readonly blocks = new Map<string, Prepared[]>();

  /** Adds `p` unless an item already in the round stands in its way. */
  admit(p: Prepared): boolean {
    const block = p.row.blockKey === null ? null : JSON.stringify([p.row.registryKey, p.row.blockKey]);
    const sameBlock = block === null ? [] : (this.blocks.get(block) ?? []);
    if (this.ids.has(p.id) || this.serials.has(p.serialKey) || sameBlock.some((r) => overlap(r.row, p.row))) return false;
    this.items.push(p);
    this.ids.add(p.id);
    this.serials.add(p.serialKey);
    if (block !== null) this.blocks.set(block, [...sameBlock, p]);
    return true;
  }
}

const bySerialKey = (a: Prepared, b: Prepared) => (a.serialKey < b.serialKey ? -1 : a.serialKey > b.serialKey ? 1 : 0);

/**
 * Creates many credits, usually in one statement; each input gets its own
 * outcome. Idempotent by construction: the ID is derived from the canonical
 * input, so a repeat finds its row and writes nothing. Concurrent creates of
 * one input serialise on the primary key, and exactly one of them appends
 * `created`.
 *
 * Within one batch, items are answered as if they had been sent one after
 * another: of two items with the same ID or serial, or sharing units, the
 * earlier one goes in first; the later one is answered by it, or, when the
 * earlier one was refused, tries again in a statement of its own.
 */
export async function createCredits(
  em: EntityManager,
  inputs: CreditFields[],
  actor: string,
  now: Date,
): Promise<CreateOutcome[]> {
  const prepared = inputs.map((f) => prepare(f, actor, now));
  const insertedRows = new Map<string, Prepared>();
  let pending = prepared;
  while (pending.length > 0) {
    const round = new Round();
    const held = pending.filter((p) => !round.admit(p));
    // Rows go in (registry, serial) order so two overlapping batches take their
    // key locks in the same order and cannot deadlock each other. One ID always
    // has one serial key, so this orders the primary key's locks as well.
    const ordered = [...round.items].sort(bySerialKey);
    const inserted = await insertNewCredits(
      em,
      ordered.map((p) => ({ row: p.row, created: p.created })),
    );
    for (const r of round.items) if (inserted.has(r.id)) insertedRows.set(r.id, r);
    // Rare (items of one batch in each other's way), so a plain scan.
    pending = held.filter((h) => !round.items.some((r) => inserted.has(r.id) && standsInWayOf(r, h)));
  }
  const fresh = [...insertedRows.values()];

  // Whatever was not inserted collided with a committed row: find it.
  const rest = prepared.filter((p) => !insertedRows.has(p.id));
  const existing = await existingFor(em, rest);
  const freshIds = new Set(fresh.map((p) => p.id));
  const seenFresh = new Set<string>();
  return prepared.map((p): CreateOutcome => {
    if (freshIds.has(p.id) && !seenFresh.has(p.id)) {
      seenFresh.add(p.id);
      return { outcome: 'created', credit: creditView(p.row) };
    }
    const same = existing.byId.get(p.id) ?? fresh.find((f) => f.id === p.id)?.row;
    if (same) return { outcome: 'existing', credit: creditView(same) };
    const holder = existing.bySerial.get(p.serialKey) ?? fresh.find((f) => f.serialKey === p.serialKey)?.row;
    if (holder) {
      // A serial that names units the holder holds: say which, as for any other overlap.
      const shared = overlap(holder, p.row);
      return {
        outcome: 'conflict',
        existingId: holder.id,
        ...(shared ? { overlap: shared } : {}),
        message:
          `registry serial ${p.row.registry} ${p.row.serialNumber} already belongs to credit ${holder.id} with different details` +
          (shared ? `; it holds units ${shared.first}…${shared.last} of them` : ''),
      };
    }
    const overlapping = [...existing.overlapping, ...fresh.map((f) => f.row)].find((r) => r.id !== p.id && overlap(r, p.row));
    const units = overlapping && overlap(overlapping, p.row);
    if (!overlapping || !units) throw new Error(`credit ${p.id} was neither inserted nor found`);
    return {
      outcome: 'conflict',
      existingId: overlapping.id,
      overlap: units,
      message: `units ${units.first}…${units.last} of this block are already held by credit ${overlapping.id} (serial ${overlapping.serialNumber}); no unit is issued twice`,
    };
  });
}

/** The units two rows of the same registry and block both hold, or null. */
function overlap(a: CreditRecord, b: CreditRecord): { first: number; last: number } | null {
  if (a.unitFirst == null || a.unitLast == null || b.unitFirst == null || b.unitLast == null) return null;
  if (a.registryKey !== b.registryKey || a.blockKey !== b.blockKey) return null;
  const first = Math.max(a.unitFirst, b.unitFirst);
  const last = Math.min(a.unitLast, b.unitLast);
  return first <= last ? { first, last } : null;
}

/** The committed rows that hold these items' IDs, registry serials or units. */
async function existingFor(em: EntityManager, items: Prepared[]) {
  const byId = new Map<string, CreditRecord>();
  const bySerial = new Map<string, CreditRecord>();
  const rows = await findByIdOrSerial(
    em,
    items.map((p) => p.id),
    items.map((p) => p.row),
  );
  for (const row of rows) {
    byId.set(row.id, row);
    bySerial.set(naturalKey(row), row);
  }
  // What neither an ID nor a serial explains was refused for its units.
  const unexplained = items.filter((p) => !byId.has(p.id) && !bySerial.has(p.serialKey) && p.row.unitFirst != null);
  const overlapping = await findOverlapping(
    em,
    unexplained.map((p) => ({ registryKey: p.row.registryKey, blockKey: p.row.blockKey ?? '', unitFirst: p.row.unitFirst ?? 0, unitLast: p.row.unitLast ?? 0 })),
  );
  return { byId, bySerial, overlapping };
}

/**
 * One credit, as credits.create and the REST facade's POST /api/records/ both
 * answer it: the credit and whether this call created it; a serial or units
 * held by another credit is CONFLICT naming that credit.
 */
export async function createCredit(em: EntityManager, input: CreditFields, actor: string, now: Date): Promise<{ credit: CreditView; created: boolean }> {
  const [result] = await createCredits(em, [input], actor, now);
  if (!result) throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'no outcome' });
  if (result.outcome === 'conflict') throw conflict(result.message, { existingId: result.existingId, ...(result.overlap ? { overlap: result.overlap } : {}) });
  return { credit: result.credit, created: result.outcome === 'created' };
}
