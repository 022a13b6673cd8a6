import type { CreditRecord } from '../db/entities.js';
import { creditId as idOf, splitChildId } from '../credits/canonical-id.js';
import type { SplitWithPart, SupplyTotals } from '../credits/event-store.js';
import { addQuantities, compareQuantity } from '../credits/quantity.js';
import { eventHash } from '../credits/event-hash.js';
import type { StoredEvent } from '../credits/events.js';
import { projectionDiff, projectionOf } from '../credits/projection.js';
import { evolve, initialState, unitsOf, type CreditState } from '../credits/state.js';

/*
 * Pure checks of the ledger's integrity, with no I/O: the caller reads the
 * log (ordered by credit, then version) and the projection rows and feeds
 * them in. Memory is one credit's state at a time, whatever the log's size.
 */

export type InconsistencyKind =
  | 'hash_mismatch'
  | 'broken_link'
  | 'version_gap'
  | 'position_order'
  | 'bad_event_type'
  | 'id_mismatch'
  | 'bad_split'
  | 'part_mismatch'
  | 'supply_mismatch'
  | 'no_credit'
  | 'missing_projection'
  | 'projection_mismatch'
  | 'orphan_projection'
  // Proofs (server/admin/verify-proofs.ts): the log no longer matches a signed checkpoint; a checkpoint's or a
  // certificate's signature or fields are wrong; a certificate's `retired` event is gone or changed.
  | 'checkpoint_mismatch'
  | 'checkpoint_signature'
  | 'certificate_mismatch';

export type Inconsistency = {
  kind: InconsistencyKind;
  creditId: string;
  /** The event at fault; for projection problems the credit's last event; null when the credit has no events. */
  position: string | null;
  version: number | null;
  message: string;
};

const show = (v: unknown): string => JSON.stringify(v);
const showUnits = (u: { first: number; last: number } | null): string => (u ? `${u.first}…${u.last}` : 'none');

/**
 * What is wrong with a split of a credit in `state`, or null: a part must be
 * less than the credit holds, and, for a block, its units must be the lowest
 * ones the credit holds, as many as the quantity. Together with the check of
 * every part against its split (partMismatch) this is conservation: the
 * parts and what is left tile the block, no gap and no overlap.
 */
function badSplit(state: CreditState, split: Extract<StoredEvent, { type: 'split' }>['data']): string | null {
  if (state.status !== 'active') return `a split of a credit that is ${state.status}`;
  if (compareQuantity(split.quantity, state.quantity) >= 0) return `a part of ${split.quantity} from a credit holding ${state.quantity}`;
  if (!state.units) return split.unitRange ? 'units split off an amount-only credit' : null;
  const expected = { first: state.units.first, last: state.units.first + Number(split.quantity) - 1 };
  if (!split.unitRange || split.unitRange.first !== expected.first || split.unitRange.last !== expected.last) {
    return `the part's units are ${showUnits(split.unitRange)}, not the lowest ${split.quantity} the credit holds, ${showUnits(expected)}`;
  }
  return null;
}

/** One credit's stream, checked event by event as it is read. */
export class CreditStreamCheck {
  private last: StoredEvent | null = null;
  private state: CreditState = initialState();
  events = 0;

  constructor(readonly creditId: string) {}

  /** Checks the next event of this credit (in version order) and folds it in; returns the first problem, if any. */
  add(e: StoredEvent): Inconsistency | null {
    const issue = (kind: InconsistencyKind, message: string): Inconsistency => ({
      kind,
      creditId: this.creditId,
      position: e.position,
      version: e.version,
      message: `event ${e.position} (credit ${this.creditId}, version ${e.version}): ${message}`,
    });
    const expectedVersion = (this.last?.version ?? 0) + 1;
    this.events++;
    if (e.version !== expectedVersion) {
      return issue('version_gap', `version ${e.version} where ${expectedVersion} was expected (versions must run 1, 2, 3… without gaps)`);
    }
    const expectedPrev = this.last?.hash ?? null;
    if (e.prevHash !== expectedPrev) {
      return issue('broken_link', `prevHash ${show(e.prevHash)} does not match the previous event's hash ${show(expectedPrev)}`);
    }
    const recomputed = eventHash(e);
    if (recomputed !== e.hash) {
      return issue('hash_mismatch', `stored hash ${e.hash} but its contents hash to ${recomputed}: the event was altered`);
    }
    if (this.last && BigInt(e.position) <= BigInt(this.last.position)) {
      return issue('position_order', `position is not after the previous version's position ${this.last.position}`);
    }
    const begins = e.type === 'created' || e.type === 'split_from';
    if ((e.version === 1) !== begins) {
      return issue('bad_event_type', e.version === 1 ? `the first event is '${e.type}', not 'created' or 'split_from'` : `'${e.type}' again at version ${e.version}`);
    }
    if (begins) {
      // The ID is a hash of the credit's fields (or of its parent and request): a stream filed under another ID is forged or moved.
      let derived: string;
      try {
        derived = e.type === 'created' ? idOf(e.data) : splitChildId(e.data.parentId, e.data.requestId);
      } catch (err) {
        return issue('id_mismatch', `its fields cannot be given a credit ID (${err instanceof Error ? err.message : String(err)})`);
      }
      if (derived !== e.creditId) return issue('id_mismatch', `its ${e.type} event gives the credit ID ${derived}, not ${e.creditId}`);
    }
    if (e.type === 'split') {
      const wrong = badSplit(this.state, e.data);
      if (wrong) return issue('bad_split', wrong);
    }
    this.state = evolve(this.state, e);
    this.last = e;
    return null;
  }

  /** After the credit's last event: does its projection row (null when there is none) equal the replay? */
  finish(row: CreditRecord | null): Inconsistency | null {
    const position = this.last?.position ?? null;
    const version = this.last?.version ?? null;
    const issue = (kind: InconsistencyKind, message: string): Inconsistency => ({
      kind,
      creditId: this.creditId,
      position,
      version,
      message: `credit ${this.creditId} (last event ${position ?? 'none'}): ${message}`,
    });
    if (this.state.status === 'absent') return issue('no_credit', 'its events do not bring a credit into existence');
    if (!row) return issue('missing_projection', 'has events but no row in the credits table');
    const diffs = projectionDiff(projectionOf(this.state), row);
    if (diffs.length === 0) return null;
    const detail = diffs.map((d) => `${d.column} is ${d.actual}, replay gives ${d.expected}`).join('; ');
    return issue('projection_mismatch', `projection row differs from the replay of its events: ${detail}`);
  }
}

/** A credits row with no event at all. */
export const orphanProjection = (creditId: string): Inconsistency => ({
  kind: 'orphan_projection',
  creditId,
  position: null,
  version: null,
  message: `credit ${creditId}: row in the credits table but no events in the log`,
});

/** What is wrong between a split and the part it names, or null (see badSplit for the split itself). */
export function partMismatch(parentId: string, split: SplitWithPart['split'], part: SplitWithPart['part']): string | null {
  if (!part) return `names part ${split.childId}, which has no stream beginning with split_from`;
  if (part.parentId !== parentId || part.requestId !== split.requestId) return `part ${split.childId} says it was carved off ${part.parentId} by request ${part.requestId}`;
  if (compareQuantity(part.fields.quantity, split.quantity) !== 0) return `part ${split.childId} holds ${part.fields.quantity}, the split carved ${split.quantity}`;
  const { units } = unitsOf(part.fields);
  // Compared end by end: jsonb keeps an object's keys in its own order, so the same range may come back as {last, first}.
  const carved = split.unitRange;
  const same = units === null || carved === null ? units === carved : units.first === carved.first && units.last === carved.last;
  if (!same) return `part ${split.childId} holds units ${showUnits(units)}, the split carved ${showUnits(carved)}`;
  return null;
}

export const splitIssue = (parentId: string, position: string, message: string): Inconsistency => ({
  kind: 'part_mismatch',
  creditId: parentId,
  position,
  version: null,
  message: `split at ${position} (credit ${parentId}): ${message}`,
});

export const orphanPart = (o: { creditId: string; position: string; parentId: string }): Inconsistency => ({
  kind: 'part_mismatch',
  creditId: o.creditId,
  position: o.position,
  version: 1,
  message: `credit ${o.creditId}: carved off ${o.parentId} by its split_from at ${o.position}, but ${o.parentId} holds no split naming it`,
});

/** Issued must be what is active, retired and cancelled together: nothing made or lost by splitting. */
export function supplyIssue(t: SupplyTotals): Inconsistency | null {
  const accounted = addQuantities(t.active, t.retired, t.cancelled);
  if (compareQuantity(accounted, t.issued) === 0) return null;
  return {
    kind: 'supply_mismatch',
    creditId: '-',
    position: null,
    version: null,
    message: `issued ${t.issued} but active ${t.active} + retired ${t.retired} + cancelled ${t.cancelled} = ${accounted}`,
  };
}
