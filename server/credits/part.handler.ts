import type { EntityManager } from '@mikro-orm/postgresql';
import { splitChildId } from './canonical-id.js';
import { lockingTransaction } from './command-handler.js';
import { lockCredit } from './credit-store.js';
import { carvedPart, decide } from './decider.js';
import { DomainError } from './errors.js';
import { appendWithProjections, chained, headOf, readStream } from './event-store.js';
import type { CreditEvent, StoredEvent } from './events.js';
import { projectionOf } from './projection.js';
import { compareQuantity } from './quantity.js';
import { replay, type ExistingCredit } from './state.js';

/*
 * Acting on part of a credit: carve `quantity` off it into a new credit (the
 * lowest units, for a block) and, in the same transaction, do something to
 * that part — nothing (credits.split), request its retirement, cancel it.
 * The parent is locked first, then the part: the worker only ever locks one
 * credit, so the order never inverts.
 */

export type PartRequest = { parentId: string; requestId: string; quantity: string };

export type PartOutcome = {
  /** The credit acted on: the part, or the parent itself when the quantity was all it held. */
  creditId: string;
  parentId: string;
  /** A new part was carved off now (false: an earlier call with this requestId carved it, or the whole credit was used). */
  carved: boolean;
  credit: ExistingCredit;
  parent: ExistingCredit;
  /** Events appended to the credit acted on (after its `split_from`, if carved now). */
  appended: StoredEvent[];
};

type Follow = (credit: ExistingCredit) => { events: CreditEvent[] };

const existing = (events: StoredEvent[], id: string): ExistingCredit => {
  const state = replay(events);
  if (state.status === 'absent') throw new DomainError('CREDIT_NOT_FOUND', `credit ${id} not found`);
  return state;
};

/** Appends `events` to a credit's stream after `history` and writes its projection; returns them stored and the new state. */
async function append(tx: EntityManager, id: string, history: StoredEvent[], before: ExistingCredit | null, events: CreditEvent[], meta: { actor: string; now: Date }) {
  const next = chained(id, headOf(history), events, meta);
  const after = replay(next, before ?? undefined);
  if (after.status === 'absent') throw new Error(`credit ${id} has no creation event`);
  const appended = next.length > 0 ? await appendWithProjections(tx, next, [projectionOf(after)]) : [];
  return { appended, after };
}

/**
 * Carves the part (or finds the one an earlier call with the same requestId
 * carved) and applies `follow` to it, all or nothing. A quantity equal to all
 * the credit holds acts on the credit itself (unless `wholeAllowed` is false:
 * a split must leave something); more than it holds is INSUFFICIENT_QUANTITY
 * naming what is left.
 */
export function actOnPart(
  em: EntityManager,
  req: PartRequest,
  follow: Follow,
  opts: { actor: string; now: Date; lockTimeoutMs: number; wholeAllowed?: boolean },
): Promise<PartOutcome> {
  const meta = { actor: opts.actor, now: opts.now };
  return lockingTransaction(em, req.parentId, opts.lockTimeoutMs, async (tx) => {
    await lockCredit(tx, req.parentId);
    const parentHistory = await readStream(tx, req.parentId);
    const parent = existing(parentHistory, req.parentId);
    const childId = splitChildId(req.parentId, req.requestId);

    if (opts.wholeAllowed !== false && !parent.splits.has(req.requestId) && compareQuantity(req.quantity, parent.quantity) === 0) {
      // All of it: no part to carve, act on the credit itself.
      const { appended, after } = await append(tx, req.parentId, parentHistory, parent, follow(parent).events, meta);
      return { creditId: req.parentId, parentId: req.parentId, carved: false, credit: after, parent: after, appended };
    }

    const splitEvents = decide({ type: 'split', childId, requestId: req.requestId, quantity: req.quantity }, parent);
    const [split] = splitEvents;
    if (!split) {
      // This requestId carved the part before: act on it as it is now.
      await lockCredit(tx, childId);
      const childHistory = await readStream(tx, childId);
      const child = existing(childHistory, childId);
      const { appended, after } = await append(tx, childId, childHistory, child, follow(child).events, meta);
      return { creditId: childId, parentId: req.parentId, carved: false, credit: after, parent, appended };
    }
    if (split.type !== 'split') throw new Error('a split decides a split');
    // The parent gives its units up before the part takes them: the exclusion constraint sees no overlap in between.
    const parentAfter = (await append(tx, req.parentId, parentHistory, parent, splitEvents, meta)).after;
    const born = carvedPart(parent, split.data);
    const child = replay(chained(childId, headOf([]), [born], meta));
    if (child.status === 'absent') throw new Error('a split_from event begins a credit');
    const { appended, after } = await append(tx, childId, [], null, [born, ...follow(child).events], meta);
    return { creditId: childId, parentId: req.parentId, carved: true, credit: after, parent: parentAfter, appended };
  });
}
