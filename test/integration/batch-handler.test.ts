import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleCommands, type BatchCommand } from '../../server/credits/batch-handler.js';
import { decide } from '../../server/credits/decider.js';
import { DomainError } from '../../server/credits/errors.js';
import { initOrm, type Orm } from '../../server/db/orm.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { openDb } from '../helpers/pg.js';
import { createCredits } from '../helpers/retirement-e2e.js';

/*
 * The worker's batch path (server/credits/batch-handler.ts) against real
 * PostgreSQL: several credits in one transaction, each locked, decided and
 * recorded on its own; what it cannot lock at once it hands back untouched.
 */

let app: TestApp;
let orm: Orm;
let db: Pool;
const opts = () => ({ lockTimeoutMs: 2000, now: new Date() });

beforeAll(async () => {
  app = await startTestApp();
  orm = await initOrm(app.env.DATABASE_URL ?? '', { poolMax: 4, statementTimeoutMs: 60_000 });
  db = openDb(app.databaseUrl, 4);
});

afterAll(async () => {
  await db?.end();
  await orm?.close();
  await app?.close();
});

/** Credits with a pending retirement request each, as the worker finds them. */
async function pendingCredits(count: number): Promise<string[]> {
  const ids = await createCredits(app.admin, count);
  for (const id of ids) await app.admin.credits.retire.mutate({ id, beneficiary: 'Batch Co' });
  return ids;
}

const retire = (creditId: string): BatchCommand => ({
  creditId,
  decide: (state) => ({ events: decide({ type: 'retire', attempts: 1 }, state), actor: 'worker' }),
});

async function eventsOf(id: string) {
  const { rows } = await db.query<{ type: string; tx_id: string }>('select type, tx_id::text from events where credit_id = $1 order by version', [id]);
  return rows;
}

describe('handleCommands', () => {
  it('retires several credits in one transaction, each with its own events and projection row', async () => {
    const ids = await pendingCredits(5);
    const outcomes = await handleCommands(orm.em.fork(), ids.map(retire), opts());
    expect(outcomes.map((o) => o.kind)).toEqual(Array(5).fill('handled'));
    const txIds = new Set<string>();
    for (const [i, id] of ids.entries()) {
      const outcome = outcomes[i];
      if (outcome?.kind !== 'handled') throw new Error('not handled');
      expect(outcome.handled.appended.map((e) => [e.creditId, e.type, e.version])).toEqual([[id, 'retired', 3]]);
      expect(outcome.handled.after.status).toBe('retired');
      const events = await eventsOf(id);
      expect(events.map((e) => e.type)).toEqual(['created', 'retirement_requested', 'retired']);
      txIds.add(events[2]?.tx_id ?? '');
      expect((await app.admin.credits.get.query({ id })).credit.status).toBe('retired');
    }
    // One writing transaction for all five: one commit.
    expect(txIds.size).toBe(1);
  });

  it('hands back a credit locked elsewhere without waiting for it, and does the rest', async () => {
    const ids = await pendingCredits(3);
    const holder = await db.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from credits where id = $1 for update', [ids[1]]);
      const started = Date.now();
      const outcomes = await handleCommands(orm.em.fork(), ids.map(retire), { ...opts(), lockTimeoutMs: 10_000 });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(outcomes.map((o) => o.kind)).toEqual(['handled', 'alone', 'handled']);
      expect((await eventsOf(ids[1] ?? '')).map((e) => e.type)).toEqual(['created', 'retirement_requested']);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
  });

  it('a command a rule refuses writes nothing for its credit; the others are recorded', async () => {
    const ids = await pendingCredits(3);
    const refusing: BatchCommand = {
      creditId: ids[0] ?? '',
      decide: () => {
        throw new DomainError('ALREADY_RETIRED', 'refused for the test');
      },
    };
    const outcomes = await handleCommands(orm.em.fork(), [refusing, retire(ids[1] ?? ''), retire(ids[2] ?? '')], opts());
    expect(outcomes[0]).toMatchObject({ kind: 'refused', error: { code: 'ALREADY_RETIRED' } });
    expect(outcomes.slice(1).map((o) => o.kind)).toEqual(['handled', 'handled']);
    expect((await eventsOf(ids[0] ?? '')).map((e) => e.type)).toEqual(['created', 'retirement_requested']);
  });

  it('writes nothing at all when one write fails: the batch is one transaction', async () => {
    const ids = await pendingCredits(3);
    const failing: BatchCommand = {
      creditId: ids[2] ?? '',
      // Two `retired` events in one stream: the database's one-retired index refuses the whole statement.
      decide: (state) => {
        const [retired] = decide({ type: 'retire', attempts: 1 }, state);
        if (!retired) throw new Error('expected a retired event');
        return { events: [retired, retired], actor: 'worker' };
      },
    };
    await expect(handleCommands(orm.em.fork(), [retire(ids[0] ?? ''), retire(ids[1] ?? ''), failing], opts())).rejects.toThrow();
    for (const id of ids) expect((await eventsOf(id)).map((e) => e.type)).toEqual(['created', 'retirement_requested']);
  });

  it('hands back a credit without a projection row (for handleCommand to rebuild) and mends a row that disagrees with its events', async () => {
    const [gone, edited, untouched] = await pendingCredits(3);
    await db.query(`delete from credits where id = $1`, [gone]);
    await db.query(`update credits set retirement_state = 'none' where id = $1`, [edited]);
    // Nothing to decide: an empty decision on each.
    const idle = (creditId: string): BatchCommand => ({ creditId, decide: () => ({ events: [], actor: 'worker' }) });
    const outcomes = await handleCommands(orm.em.fork(), [idle(gone ?? ''), idle(edited ?? ''), idle(untouched ?? '')], opts());
    expect(outcomes[0]).toEqual({ kind: 'alone' });
    expect(outcomes[1]).toMatchObject({ kind: 'handled', handled: { appended: [], projectionRepaired: true } });
    expect(outcomes[2]).toMatchObject({ kind: 'handled', handled: { appended: [], projectionRepaired: false } });
    const { rows } = await db.query<{ retirement_state: string }>('select retirement_state from credits where id = $1', [edited]);
    expect(rows[0]?.retirement_state).toBe('pending');
  });

  it('refuses a batch that names a credit twice', async () => {
    const [id] = await pendingCredits(1);
    await expect(handleCommands(orm.em.fork(), [retire(id ?? ''), retire(id ?? '')], opts())).rejects.toThrow(/each credit once/);
  });
});
