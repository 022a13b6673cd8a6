import { describe, expect, it } from 'vitest';
import { creditId } from '../../server/credits/canonical-id.js';
import { chained } from '../../server/credits/event-store.js';
import type { CreditEvent, StoredEvent } from '../../server/credits/events.js';
import { projectionDiff, projectionOf } from '../../server/credits/projection.js';
import { replay } from '../../server/credits/state.js';
import type { CreditRecord } from '../../server/db/entities.js';
import { CreditStreamCheck, orphanProjection } from '../../server/ledger-check/verifier.js';

/*
 * The pure checks verify runs, on streams built the way the event store
 * builds them, then broken one way at a time.
 */

const fields = { projectName: 'Mangrove Bay', registry: 'Verra', vintage: 2021, quantity: '12.5', serialNumber: 'VCS-77' };
const id = creditId(fields);

function stream(): StoredEvent[] {
  const events: CreditEvent[] = [
    { type: 'created', data: fields },
    { type: 'retirement_requested', data: { beneficiary: 'ACME', reason: null } },
    { type: 'retired', data: { beneficiary: 'ACME', reason: null, requestedBy: 'key_a', requestedAt: '2026-01-02T00:00:00.000Z', attempts: 1 } },
  ];
  const out: StoredEvent[] = [];
  let head = { version: 0, hash: null as string | null };
  events.forEach((event, i) => {
    const [next] = chained(id, head, [event], { actor: 'key_a', now: new Date(Date.UTC(2026, 0, 1 + i)) });
    if (!next) throw new Error('no event chained');
    out.push({ ...next, position: String(10 * (i + 1)), txId: String(100 + i) });
    head = { version: next.version, hash: next.hash };
  });
  return out;
}

function check(events: StoredEvent[], row: CreditRecord | null = rowOf(stream())) {
  const c = new CreditStreamCheck(id);
  for (const e of events) {
    const issue = c.add(e);
    if (issue) return issue;
  }
  return c.finish(row);
}

function rowOf(events: StoredEvent[]) {
  const state = replay(events);
  if (state.status === 'absent') throw new Error('no credit');
  return projectionOf(state);
}

describe('CreditStreamCheck', () => {
  it('accepts an intact stream whose projection equals its replay', () => {
    expect(check(stream())).toBeNull();
  });

  it('names the altered event when a payload was edited', () => {
    const events = stream();
    const second = events[1] as StoredEvent & { data: { beneficiary: string } };
    second.data = { ...second.data, beneficiary: 'Someone else' };
    expect(check(events)).toMatchObject({ kind: 'hash_mismatch', position: '20', version: 2, creditId: id });
  });

  it('finds an event removed from the middle (version gap)', () => {
    const events = stream();
    events.splice(1, 1);
    expect(check(events)).toMatchObject({ kind: 'version_gap', position: '30', version: 3 });
  });

  it('finds a link that does not point at the previous event', () => {
    const events = stream();
    const third = events[2] as StoredEvent;
    events[2] = { ...third, prevHash: 'f'.repeat(64) };
    expect(check(events)).toMatchObject({ kind: 'broken_link', position: '30' });
  });

  it('finds a stream that does not start at version 1 with created', () => {
    expect(check(stream().slice(1))).toMatchObject({ kind: 'version_gap', position: '20' });
    const [row] = chained(id, { version: 0, hash: null }, [{ type: 'retirement_requested', data: { beneficiary: 'X', reason: null } }], { actor: 'key_a', now: new Date() });
    if (!row) throw new Error('no event chained');
    const first: StoredEvent = { ...row, position: '1', txId: '100' };
    expect(check([first])).toMatchObject({ kind: 'bad_event_type', position: '1' });
  });

  it('finds a stream filed under an ID its created event does not give, even with every hash recomputed', () => {
    const otherId = creditId({ ...fields, quantity: '999' });
    // A forger who holds the database re-chains the whole stream under another credit's ID.
    const forged: StoredEvent[] = [];
    let head = { version: 0, hash: null as string | null };
    for (const e of stream()) {
      const [next] = chained(otherId, head, [e], { actor: e.actor, now: e.occurredAt });
      if (!next) throw new Error('no event chained');
      forged.push({ ...next, position: e.position, txId: e.txId });
      head = { version: next.version, hash: next.hash };
    }
    const c = new CreditStreamCheck(otherId);
    expect(c.add(forged[0] as StoredEvent)).toMatchObject({ kind: 'id_mismatch', position: '10', creditId: otherId, message: expect.stringContaining(id) as unknown });
  });

  it('finds positions that run against the versions', () => {
    const swapped = stream().map((e, i) => (i === 2 ? { ...e, position: '5' } : e));
    expect(check(swapped)).toMatchObject({ kind: 'position_order', position: '5' });
  });

  it('compares the projection row column by column', () => {
    const events = stream();
    const row = rowOf(events);
    expect(check(events, { ...row, quantity: '13' })).toMatchObject({ kind: 'projection_mismatch', position: '30', creditId: id });
    expect(check(events, { ...row, retiredAt: null })?.message).toContain('retiredAt');
    expect(check(events, null)).toMatchObject({ kind: 'missing_projection', position: '30' });
    expect(projectionDiff(row, { ...row, createdAt: new Date(row.createdAt.getTime()) })).toEqual([]);
  });

  it('reports a row without events', () => {
    expect(orphanProjection(id)).toMatchObject({ kind: 'orphan_projection', creditId: id, position: null });
  });
});
