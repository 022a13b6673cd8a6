import type { CreditRecord } from '../db/entities.js';
import { creditId as idOf } from '../credits/canonical-id.js';
import { eventHash } from '../credits/event-hash.js';
import type { StoredEvent } from '../credits/events.js';
import { projectionDiff, projectionOf } from '../credits/projection.js';
import { evolve, initialState, type CreditState } from '../credits/state.js';

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
  | 'no_credit'
  | 'missing_projection'
  | 'projection_mismatch'
  | 'orphan_projection';

export type Inconsistency = {
  kind: InconsistencyKind;
  creditId: string;
  /** The event at fault; for projection problems the credit's last event; null when the credit has no events. */
  position: string | null;
  version: number | null;
  message: string;
};

const show = (v: unknown): string => JSON.stringify(v);

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
    if ((e.version === 1) !== (e.type === 'created')) {
      return issue('bad_event_type', e.version === 1 ? `the first event is '${e.type}', not 'created'` : `'created' again at version ${e.version}`);
    }
    if (e.type === 'created') {
      // The ID is a hash of the credit's fields: a stream filed under another ID is a forged or moved credit.
      let derived: string;
      try {
        derived = idOf(e.data);
      } catch (err) {
        return issue('id_mismatch', `its fields cannot be given a credit ID (${err instanceof Error ? err.message : String(err)})`);
      }
      if (derived !== e.creditId) return issue('id_mismatch', `its fields give the credit ID ${derived}, not ${e.creditId}`);
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
