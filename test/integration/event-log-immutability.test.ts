import type { DatabaseError, Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventHash } from '../../server/credits/event-hash.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { openDb } from '../helpers/pg.js';

/*
 * The database itself keeps history: whatever a client with SQL access does,
 * events cannot be changed or removed, and a credit cannot be created or
 * retired twice. Writes here go straight to PostgreSQL, bypassing the API.
 */

let app: TestApp;
let db: Pool;
let creditId: string;

type EventRow = { position: string; credit_id: string; version: number; type: string; hash: string; actor: string; payload: unknown };

beforeAll(async () => {
  app = await startTestApp();
  db = openDb(app.databaseUrl, 2);
  const { credit } = await app.admin.credits.create.mutate({
    projectName: 'Immutable Project',
    registry: 'Verra',
    vintage: 2020,
    quantity: '7',
    serialNumber: 'IMMUTABLE-1',
  });
  creditId = credit.id;
  await app.admin.credits.retire.mutate({ id: creditId, beneficiary: 'Immutable Beneficiary' });
});

afterAll(async () => {
  await db?.end();
  await app?.close();
});

async function refusal(sql: string, params: unknown[] = []): Promise<DatabaseError> {
  try {
    await db.query(sql, params);
  } catch (err) {
    return err as DatabaseError;
  }
  throw new Error(`expected PostgreSQL to refuse: ${sql}`);
}

const allEvents = async () => (await db.query<EventRow>('select * from events order by position')).rows;

/** A correctly hashed and chained event row for the credit, as a buggy or hostile writer might insert it. */
/** A hand-made event is deliberately outside the domain's types; it is hashed as the ledger would hash it. */
type HashInput = Parameters<typeof eventHash>[0];

async function handMadeEvent(type: string, payload: Record<string, unknown>, overrides: { version?: number; prevHash?: string | null } = {}) {
  const { rows } = await db.query<{ version: number; hash: string }>(
    'select version, hash from events where credit_id = $1 order by version desc limit 1',
    [creditId],
  );
  const head = rows[0];
  if (!head) throw new Error('credit has no events');
  const fields = {
    creditId,
    version: overrides.version ?? head.version + 1,
    type,
    data: payload,
    actor: 'key_hand_written',
    occurredAt: new Date(),
    prevHash: overrides.prevHash === undefined ? head.hash : overrides.prevHash,
  };
  return {
    sql: `insert into events (credit_id, version, type, payload, actor, occurred_at, prev_hash, hash)
          values ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)`,
    params: [fields.creditId, fields.version, fields.type, JSON.stringify(payload), fields.actor, fields.occurredAt, fields.prevHash, eventHash(fields as HashInput)],
  };
}

const retiredPayload = () => ({
  beneficiary: 'Immutable Beneficiary',
  reason: null,
  requestedBy: 'key_bootstrap_admin',
  requestedAt: new Date().toISOString(),
  attempts: 1,
});

describe('events are append-only', () => {
  it('the fixture has a created and a retirement_requested event', async () => {
    expect((await allEvents()).map((e) => [e.credit_id, e.version, e.type])).toEqual([
      [creditId, 1, 'created'],
      [creditId, 2, 'retirement_requested'],
    ]);
  });

  it.each([
    ['UPDATE of one event', `update events set actor = 'key_forger' where version = 1`],
    ['UPDATE that changes nothing', 'update events set actor = actor'],
    ['UPDATE of the payload', `update events set payload = jsonb_set(payload, '{quantity}', '"7000"') where type = 'created'`],
    ['DELETE of one event', 'delete from events where version = 2'],
    ['DELETE of everything', 'delete from events'],
    ['TRUNCATE', 'truncate events'],
    ['TRUNCATE ... CASCADE', 'truncate events cascade'],
  ])('%s is refused as append-only, and nothing changes', async (_name, sql) => {
    const before = await allEvents();
    const err = await refusal(sql);
    expect(err.message).toMatch(/append-only/);
    expect(err.code).toBe('P0001');
    expect(await allEvents()).toEqual(before);
  });

  it('a DELETE inside a data-modifying CTE is refused too, and the statement rolls back', async () => {
    const before = await allEvents();
    const err = await refusal(`
      with gone as (delete from events where version = 2 returning 1)
      select count(*) from gone`);
    expect(err.message).toMatch(/append-only: DELETE refused/);
    expect(await allEvents()).toEqual(before);
  });
});

describe('constraints stop a second creation or retirement, even written by hand', () => {
  it('a second retired event for a credit is refused by events_one_retired', async () => {
    // The first retirement, hand-written, is accepted: the log allows one.
    const first = await handMadeEvent('retired', retiredPayload());
    await db.query(first.sql, first.params);
    const before = await allEvents();
    expect(before.filter((e) => e.credit_id === creditId && e.type === 'retired')).toHaveLength(1);

    // A second one, correctly chained and hashed as the next version, is not.
    const second = await handMadeEvent('retired', { ...retiredPayload(), beneficiary: 'Someone Else' });
    const err = await refusal(second.sql, second.params);
    expect(err.code).toBe('23505');
    expect(err.constraint).toBe('events_one_retired');
    expect(err.message).toContain('events_one_retired');
    expect(await allEvents()).toEqual(before);
  });

  it('a second created event for a credit is refused by events_one_created', async () => {
    const before = await allEvents();
    const again = await handMadeEvent('created', {
      projectName: 'Immutable Project',
      registry: 'Verra',
      vintage: 2020,
      quantity: '7000',
      serialNumber: 'IMMUTABLE-1',
    });
    const err = await refusal(again.sql, again.params);
    // A credit begins only at version 1 (and events_one_created backs that up for version 1 itself).
    expect(err.code).toBe('23514');
    expect(err.constraint).toBe('events_begin_at_version_one');
    expect(await allEvents()).toEqual(before);
  });

  it('a second event with a version the credit already has is refused by events_credit_version_unique', async () => {
    const before = await allEvents();
    const fork = await handMadeEvent('retirement_failed', { failedReason: 'forged', attempts: 1 }, { version: 2 });
    const err = await refusal(fork.sql, fork.params);
    expect(err.code).toBe('23505');
    expect(err.constraint).toBe('events_credit_version_unique');
    expect(await allEvents()).toEqual(before);
  });

  it.each([
    ['a first event that claims a previous hash', { version: 1, prevHash: 'f'.repeat(64) }, 'events_first_has_no_prev'],
    ['a later event without a previous hash', { prevHash: null }, 'events_first_has_no_prev'],
    ['version 0', { version: 0, prevHash: 'f'.repeat(64) }, 'events_version_check'],
    ['a version 1 that does not begin a credit', { version: 1, prevHash: null }, 'events_begin_at_version_one'],
  ])('%s is refused by %s', async (_name, overrides, constraint) => {
    const before = await allEvents();
    // Only a beginning event may stand at version 1, so that case is hand-made as one.
    const row =
      constraint === 'events_first_has_no_prev' && 'version' in overrides && overrides.version === 1
        ? await handMadeEvent('created', { projectName: 'P', registry: 'Verra', vintage: 2020, quantity: '1', serialNumber: 'FORGED-1' }, overrides)
        : await handMadeEvent('retirement_failed', { failedReason: 'forged', attempts: 1 }, overrides);
    const err = await refusal(row.sql, row.params);
    expect(err.code).toBe('23514');
    expect(err.constraint).toBe(constraint);
    expect(await allEvents()).toEqual(before);
  });

  it('an event type the ledger does not know is refused by events_type_check', async () => {
    const row = await handMadeEvent('unretired', {});
    const err = await refusal(row.sql, row.params);
    expect(err.code).toBe('23514');
    expect(err.constraint).toBe('events_type_check');
  });
});
