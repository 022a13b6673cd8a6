import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError } from './errors.js';
import { readStream, type StoredEvent } from './event-store.js';
import { findCredits, projectionOf, viewOf, type CreditView } from './projection.js';
import { replay } from './state.js';

export type EventView = {
  position: string;
  creditId: string;
  version: number;
  type: StoredEvent['type'];
  data: StoredEvent['data'];
  actor: string;
  occurredAt: string;
  prevHash: string | null;
  hash: string;
};

export const eventView = (e: StoredEvent): EventView => ({
  position: e.position,
  creditId: e.creditId,
  version: e.version,
  type: e.type,
  data: e.data,
  actor: e.actor,
  occurredAt: e.occurredAt.toISOString(),
  prevHash: e.prevHash,
  hash: e.hash,
});

export async function getCredit(em: EntityManager, id: string): Promise<{ credit: CreditView; events: EventView[] }> {
  const [row] = await findCredits(em, [id]);
  if (!row) throw new DomainError('CREDIT_NOT_FOUND', `credit ${id} not found`);
  const events = await readStream(em, id);
  return { credit: viewOf(row), events: events.map(eventView) };
}

/** Time travel: the credit as its own events said it was at `at`. */
export async function creditStateAt(em: EntityManager, id: string, at: Date) {
  const events = await readStream(em, id, at);
  const state = replay(events);
  if (state.status === 'absent') throw new DomainError('CREDIT_NOT_FOUND', `credit ${id} did not exist at ${at.toISOString()}`);
  return {
    at: at.toISOString(),
    credit: viewOf(projectionOf(state)),
    retirementPending: state.status === 'active' && state.pending !== null,
  };
}
