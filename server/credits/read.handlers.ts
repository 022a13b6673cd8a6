import type { EntityManager } from '@mikro-orm/postgresql';
import { jsonView, type JsonView } from '../db/json-view.js';
import type { CreditRecord } from '../db/entities.js';
import { ancestorsOf, findCreditWithEvents, findCredits } from './credit-store.js';
import { DomainError } from './errors.js';
import { readStream } from './event-store.js';
import type { StoredEvent } from './events.js';
import { creditView, projectionOf, type CreditView } from './projection.js';
import { replay } from './state.js';

/** An event as the API shows it: every field of the log row, `occurredAt` as ISO-8601. */
export type EventView = JsonView<StoredEvent>;

export const eventView = (e: StoredEvent): EventView => jsonView(e);

/** Where a credit came from and what was carved off it. */
export type Lineage = {
  /** The credits it was carved off, nearest first, ending with the issued block; [] for an issued block. */
  parents: CreditView[];
  /** The parts carved off it, in the order they were carved, each as it is now. */
  parts: CreditView[];
};

/**
 * A credit, its events and its lineage. One query for a credit never split
 * and never carved off another; the lineage, read from its own `split` and
 * `split_from` events, costs one more query for each side it has.
 */
export async function getCredit(em: EntityManager, id: string): Promise<{ credit: CreditView; events: EventView[]; lineage: Lineage }> {
  const found = await findCreditWithEvents(em, id);
  if (!found) throw new DomainError('CREDIT_NOT_FOUND', `credit ${id} not found`);
  const partIds = found.events.flatMap((e) => (e.type === 'split' ? [e.data.childId] : []));
  const [parents, parts] = await Promise.all([
    found.credit.parentId ? ancestorsOf(em, id) : [],
    partIds.length > 0 ? findCredits(em, partIds) : [],
  ]);
  const byId = new Map(parts.map((p) => [p.id, p]));
  return {
    credit: creditView(found.credit),
    events: found.events.map(eventView),
    lineage: { parents: parents.map(creditView), parts: partIds.flatMap((p) => (byId.has(p) ? [creditView(byId.get(p) as CreditRecord)] : [])) },
  };
}

/** Time travel: the credit as its own events said it was at `at`. */
export async function creditStateAt(em: EntityManager, id: string, at: Date) {
  const events = await readStream(em, id, at);
  const state = replay(events);
  if (state.status === 'absent') throw new DomainError('CREDIT_NOT_FOUND', `credit ${id} did not exist at ${at.toISOString()}`);
  return {
    at: at.toISOString(),
    credit: creditView(projectionOf(state)),
    retirementPending: state.status === 'active' && state.pending !== null,
  };
}
