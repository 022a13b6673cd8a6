import type { EntityManager } from '@mikro-orm/postgresql';
import type { CreditRecord } from '../db/entities.js';
import { creditId } from './canonical-id.js';
import { findByIdOrSerial, insertNewCredits } from './credit-store.js';
import { decide } from './decider.js';
import { chained } from './event-store.js';
import type { CreditFields, NewEvent } from './events.js';
import { creditView, projectionOf, type CreditView } from './projection.js';
import { initialState, replay } from './state.js';

export type CreateOutcome =
  | { outcome: 'created'; credit: CreditView }
  | { outcome: 'existing'; credit: CreditView }
  | { outcome: 'conflict'; existingId: string; message: string };

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

/**
 * Creates many credits in one statement; each input gets its own outcome.
 * Idempotent by construction: the ID is derived from the canonical input, so a
 * repeat finds its row and writes nothing. Concurrent creates of one input
 * serialise on the primary key, and exactly one of them appends `created`.
 */
export async function createCredits(
  em: EntityManager,
  inputs: CreditFields[],
  actor: string,
  now: Date,
): Promise<CreateOutcome[]> {
  const prepared = inputs.map((f) => prepare(f, actor, now));
  // Within one batch the first spelling of an ID or a serial wins, as it would across batches.
  const seenIds = new Set<string>();
  const seenSerials = new Set<string>();
  const candidates = prepared.filter((p) => {
    if (seenIds.has(p.id) || seenSerials.has(p.serialKey)) return false;
    seenIds.add(p.id);
    seenSerials.add(p.serialKey);
    return true;
  });

  // Rows go in (registry, serial) order so two overlapping batches take their
  // key locks in the same order and cannot deadlock each other. One ID always
  // has one serial key, so this orders the primary key's locks as well.
  const ordered = [...candidates].sort((a, b) => (a.serialKey < b.serialKey ? -1 : a.serialKey > b.serialKey ? 1 : 0));
  const inserted = await insertNewCredits(
    em,
    ordered.map((p) => ({ row: p.row, created: p.created })),
  );
  const fresh = candidates.filter((p) => inserted.has(p.id));

  // Whatever was not inserted collided with a committed row: find it.
  const rest = prepared.filter((p) => !inserted.has(p.id));
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
    if (!holder) throw new Error(`credit ${p.id} was neither inserted nor found`);
    return {
      outcome: 'conflict',
      existingId: holder.id,
      message: `registry serial ${p.row.registry} ${p.row.serialNumber} already belongs to credit ${holder.id} with different details`,
    };
  });
}

/** The committed rows that hold these items' IDs or registry serials. */
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
  return { byId, bySerial };
}
