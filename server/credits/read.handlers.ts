import type { EntityManager } from '@mikro-orm/postgresql';
import { jsonView, type JsonView } from '../db/json-view.js';
import { findCreditWithEvents } from './credit-store.js';
import { DomainError } from './errors.js';
import { readStream } from './event-store.js';
import type { StoredEvent } from './events.js';
import { creditView, projectionOf, type CreditView } from './projection.js';
import { replay } from './state.js';

/** An event as the API shows it: every field of the log row, `occurredAt` as ISO-8601. */
export type EventView = JsonView<StoredEvent>;

export const eventView = (e: StoredEvent): EventView => jsonView(e);

export async function getCredit(em: EntityManager, id: string): Promise<{ credit: CreditView; events: EventView[] }> {
  const found = await findCreditWithEvents(em, id);
  if (!found) throw new DomainError('CREDIT_NOT_FOUND', `credit ${id} not found`);
  return { credit: creditView(found.credit), events: found.events.map(eventView) };
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
