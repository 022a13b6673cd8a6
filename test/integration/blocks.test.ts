import { TRPCClientError } from '@trpc/client';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedgerClient, type LedgerClient, type LedgerOutputs } from '../../client/index.js';
import { splitChildId } from '../../server/credits/canonical-id.js';
import { eventHash } from '../../server/credits/event-hash.js';
import type { StoredEvent } from '../../server/credits/events.js';
import { rejectionOf, type ApiError } from '../helpers/api-errors.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { cliEnv, runCli } from '../helpers/cli-run.js';
import { waitForSettledFeed, withPgClient } from '../helpers/pg.js';
import { eventCount, openE2eDb, settleAll, waitFor, workerEnv } from '../helpers/retirement-e2e.js';
import { killAllWorkers, spawnWorker, waitForOutput, type WorkerProcess } from '../helpers/worker-process.js';

/*
 * Credit blocks end to end through the typed client: units given or read from
 * Verra and Gold Standard serials, overlap refused (one after the other and
 * at the same instant), split, retirement of a part (retired by a real worker
 * process), cancellation, lineage, the status filter, supply totals now and at
 * an instant, the registry's own records replayed, and `admin verify` over all
 * of it, then over a split edited behind the ledger's back.
 *
 * No worker runs until the retirement of a part is first checked pending; it
 * runs from then on.
 */

type Credit = LedgerOutputs['credits']['get']['credit'];

const VERRA_TAIL = 'VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0';
const verra = (issuance: number, first: number, last: number) => `${issuance}-${first}-${last}-${VERRA_TAIL}`;
const goldStandard = (batch: number, first: number, last: number) => `GS1-1-TR-GS7652-12-2025-${batch}-${first}-${last}`;

/** The registry's records of three consecutive retirements of one issuance each (public records). */
const VERRA_RECORD = [
  { quantity: '18', serial: '19298-935995787-935995804-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0' },
  { quantity: '526', serial: '19298-935995805-935996330-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0' },
  { quantity: '66', serial: '19298-935996331-935996396-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0' },
];
const GS_RECORD = [
  { quantity: '5085', serial: 'GS1-1-TR-GS7652-12-2025-29983-1-5085' },
  { quantity: '1247', serial: 'GS1-1-TR-GS7652-12-2025-29983-5086-6332' },
  { quantity: '298', serial: 'GS1-1-TR-GS7652-12-2025-29983-6333-6630' },
];

const fields = (serialNumber: string, quantity: string, extra: Record<string, unknown> = {}) => ({
  projectName: 'Hydro Plant',
  registry: 'Verra',
  vintage: 2018,
  quantity,
  serialNumber,
  ...extra,
});

let app: TestApp;
let db: Pool;
let issuer: LedgerClient;
let retirer: LedgerClient;
let auditor: LedgerClient;
let worker: WorkerProcess | null = null;

beforeAll(async () => {
  app = await startTestApp();
  db = openE2eDb(app.databaseUrl, 5);
  issuer = (await app.as('issuer')).client;
  retirer = (await app.as('retirer')).client;
  auditor = (await app.as('auditor')).client;
});

afterAll(async () => {
  await killAllWorkers();
  await db?.end();
  await app?.close();
});

/** From here on a real worker process retires what is requested. */
async function ensureWorker(): Promise<void> {
  if (worker) return;
  worker = spawnWorker(workerEnv(app.env, 'blocks-worker', { WORKER_CONCURRENCY: '4' }));
  await waitForOutput(worker, /retirement worker started/);
}

/** What the API answered a refused call with. */
const refusal = async (call: Promise<unknown>) => answered(await rejectionOf(call));

function answered(err: unknown) {
  if (!(err instanceof TRPCClientError)) throw err;
  const { data } = err as ApiError;
  return {
    code: data?.code,
    httpStatus: data?.httpStatus,
    domainCode: data?.domainCode,
    details: data?.details ?? {},
    issues: data?.issues ?? [],
    message: err.message,
  };
}

async function create(input: ReturnType<typeof fields>): Promise<Credit> {
  const { credit, created } = await issuer.credits.create.mutate(input);
  expect(created).toBe(true);
  return credit;
}

const get = (id: string) => auditor.credits.get.query({ id });
const eventsOf = async (id: string) =>
  (await db.query<{ type: string; payload: Record<string, unknown>; tx_id: string; position: string }>(
    `select type, payload, tx_id::text, position::text from events where credit_id = $1 order by version`,
    [id],
  )).rows;

const waitRetired = (id: string) =>
  waitFor(`credit ${id} retired`, async () => (await retirer.credits.retirementStatus.query({ id })).status === 'retired' || undefined, {
    timeoutMs: 30_000,
    intervalMs: 50,
  });

describe('credits.create with units', () => {
  it('unitRange makes the quantity the unit count; the same block again is created: false', async () => {
    const input = fields('BLK-RANGE-1', '100', { unitRange: { first: 1, last: 100 } });
    const credit = await create(input);
    expect(credit).toMatchObject({ quantity: '100', unitRange: { first: 1, last: 100 }, serialNumber: 'BLK-RANGE-1', parentId: null, status: 'active' });
    const before = await eventCount(db);
    const again = await issuer.credits.create.mutate(input);
    expect(again).toEqual({ credit, created: false });
    expect(await eventCount(db)).toBe(before);
  });

  it('reads the units of a Verra or Gold Standard serial', async () => {
    const v = await create(fields(verra(30001, 935995787, 935996396), '610'));
    expect(v.unitRange).toEqual({ first: 935995787, last: 935996396 });
    const g = await create(fields(goldStandard(30002, 1, 5085), '5085', { registry: 'Gold Standard' }));
    expect(g.unitRange).toEqual({ first: 1, last: 5085 });
    // Any other serial stays amount-only.
    const amount = await create(fields('VCS-1234-2021-001', '12.5'));
    expect(amount.unitRange).toBeNull();
  });

  it('a quantity that disagrees with the units is BAD_REQUEST naming both', async () => {
    const withRange = await refusal(issuer.credits.create.mutate(fields('BLK-RANGE-BAD', '99', { unitRange: { first: 1, last: 100 } })));
    expect(withRange).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
    expect(withRange.issues).toEqual([{ path: 'quantity', message: expect.stringMatching(/^quantity 99 does not match unitRange, 1…100 \(100 units\)/) as unknown }]);

    const fromSerial = await refusal(issuer.credits.create.mutate(fields(verra(30003, 935995787, 935996396), '600')));
    expect(fromSerial.code).toBe('BAD_REQUEST');
    expect(fromSerial.issues[0]?.path).toBe('quantity');
    expect(fromSerial.issues[0]?.message).toContain('quantity 600');
    expect(fromSerial.issues[0]?.message).toContain('935995787…935996396 (610 units)');

    const disagreeing = await refusal(issuer.credits.create.mutate(fields(verra(30003, 1, 10), '10', { unitRange: { first: 1, last: 11 } })));
    expect(disagreeing.issues[0]).toMatchObject({ path: 'unitRange', message: expect.stringContaining('does not match the units serialNumber spells, 1…10') as unknown });

    for (const unitRange of [{ first: 5, last: 4 }, { first: -1, last: 4 }, { first: 1.5, last: 4 }, { first: 1 }]) {
      const r = await refusal(issuer.credits.create.mutate(fields('BLK-RANGE-BAD', '4', { unitRange })));
      expect(r.code, JSON.stringify(unitRange)).toBe('BAD_REQUEST');
      expect(r.issues[0]?.path).toMatch(/^unitRange/);
    }
  });

  it('a create overlapping a credit’s units is CONFLICT naming that credit and the units; nothing is written', async () => {
    const held = await create(fields(verra(30010, 1000, 1999), '1000'));
    const before = await eventCount(db);
    const r = await refusal(issuer.credits.create.mutate(fields(verra(30010, 1500, 2500), '1001')));
    expect(r).toMatchObject({ code: 'CONFLICT', httpStatus: 409, details: { existingId: held.id, overlap: { first: 1500, last: 1999 } } });
    expect(r.message).toContain(held.id);
    expect(r.message).toContain('1500…1999');
    // Inside it, and reaching below it.
    const inside = await refusal(issuer.credits.create.mutate(fields(verra(30010, 1200, 1200), '1')));
    expect(inside.details).toEqual({ existingId: held.id, overlap: { first: 1200, last: 1200 } });
    const below = await refusal(issuer.credits.create.mutate(fields(verra(30010, 900, 1000), '101')));
    expect(below.details).toEqual({ existingId: held.id, overlap: { first: 1000, last: 1000 } });
    expect(await eventCount(db)).toBe(before);
    // Next to it is another credit of the same block.
    await create(fields(verra(30010, 2000, 2099), '100'));
    // Another block of the same registry, or the same block in another registry, overlaps nothing.
    await create(fields(verra(30011, 1000, 1999), '1000'));
    await create(fields(verra(30010, 1000, 1999), '1000', { registry: 'Other Registry' }));
  });

  it('units given under one serial: a second create of that serial with overlapping units names the overlap', async () => {
    const held = await create(fields('BLK-RANGE-2', '100', { unitRange: { first: 1, last: 100 } }));
    const r = await refusal(issuer.credits.create.mutate(fields('BLK-RANGE-2', '101', { unitRange: { first: 50, last: 150 } })));
    expect(r).toMatchObject({ code: 'CONFLICT', details: { existingId: held.id, overlap: { first: 50, last: 100 } } });
  });

  it('two overlapping creates at the same instant: exactly one wins, the other is CONFLICT naming it (never a 500)', async () => {
    // Separate HTTP requests (no batching), from two keys.
    const a = createLedgerClient({ url: app.url, apiKey: app.env.ADMIN_API_KEY ?? '', batch: false });
    const b = createLedgerClient({ url: app.url, apiKey: (await app.as('issuer')).key, batch: false });
    for (let round = 0; round < 12; round++) {
      const base = 10_000 * (round + 1);
      const settled = await settleAll([
        a.credits.create.mutate(fields(verra(30020, base, base + 99), '100')),
        b.credits.create.mutate(fields(verra(30020, base + 50, base + 149), '100')),
      ]);
      const won = settled.flatMap((s) => (s.ok ? [s.value] : []));
      const lost = settled.flatMap((s) => (s.ok ? [] : [s.error]));
      expect(won, `round ${round}`).toHaveLength(1);
      expect(won[0]?.created).toBe(true);
      const err = answered(lost[0]);
      expect(err).toMatchObject({ code: 'CONFLICT', details: { existingId: won[0]?.credit.id, overlap: { first: base + 50, last: base + 99 } } });
    }
    // In one createMany: the first item wins, the second is told which.
    const { results } = await issuer.credits.createMany.mutate({
      items: [fields(verra(30021, 1, 100), '100'), fields(verra(30021, 100, 100), '1')],
    });
    expect(results[0]).toMatchObject({ outcome: 'created' });
    const first = results[0]?.outcome === 'created' ? results[0].credit.id : '';
    expect(results[1]).toMatchObject({ outcome: 'conflict', existingId: first, overlap: { first: 100, last: 100 } });
  });

  it('in one createMany, items sharing units are answered in the order sent, as if sent one after another', async () => {
    const whole = fields(verra(30022, 935995787, 935996396), '610');
    const part = fields(verra(30022, 935995787, 935995804), '18');
    // The part's serial sorts first, but the whole block was sent first: it wins.
    const a = await issuer.credits.createMany.mutate({ items: [whole, part] });
    expect(a.results.map((r) => r.outcome)).toEqual(['created', 'conflict']);
    expect(a.results[1]).toMatchObject({ existingId: a.results[0]?.outcome === 'created' ? a.results[0].credit.id : '', overlap: { first: 935995787, last: 935995804 } });
    // The other way round in another block: the part wins.
    const b = await issuer.credits.createMany.mutate({ items: [fields(verra(30023, 1, 18), '18'), fields(verra(30023, 1, 610), '610')] });
    expect(b.results.map((r) => r.outcome)).toEqual(['created', 'conflict']);
    // An item refused (its units are held) does not stand in the way of a later one that shares units only with it.
    const held = await create(fields(verra(30024, 1, 10), '10'));
    const c = await issuer.credits.createMany.mutate({ items: [fields(verra(30024, 5, 20), '16'), fields(verra(30024, 15, 30), '16')] });
    expect(c.results[0]).toMatchObject({ outcome: 'conflict', existingId: held.id, overlap: { first: 5, last: 10 } });
    expect(c.results[1]).toMatchObject({ outcome: 'created', credit: { unitRange: { first: 15, last: 30 } } });
  });
});

describe('credits.split', () => {
  it('carves the lowest units of a Verra block off under the registry’s serial; both streams carry the link, in one transaction', async () => {
    const block = await create(fields(verra(20001, 935995787, 935996396), '610'));
    const answer = await issuer.credits.split.mutate({ id: block.id, quantity: '18', requestId: 'split-18' });
    const partId = splitChildId(block.id, 'split-18');
    expect(answer.created).toBe(true);
    expect(answer.credit).toMatchObject({
      id: partId,
      quantity: '18',
      serialNumber: verra(20001, 935995787, 935995804),
      unitRange: { first: 935995787, last: 935995804 },
      parentId: block.id,
      status: 'active',
      projectName: 'Hydro Plant',
      vintage: 2018,
    });
    // What is left goes by the registry's serial of its units.
    expect(answer.parent).toMatchObject({
      id: block.id,
      quantity: '592',
      serialNumber: verra(20001, 935995805, 935996396),
      unitRange: { first: 935995805, last: 935996396 },
    });

    const parentEvents = await eventsOf(block.id);
    const partEvents = await eventsOf(partId);
    const split = parentEvents.at(-1);
    const splitFrom = partEvents[0];
    expect(split).toMatchObject({ type: 'split', payload: { childId: partId, requestId: 'split-18', quantity: '18', unitRange: { first: 935995787, last: 935995804 } } });
    expect(splitFrom).toMatchObject({ type: 'split_from', payload: { parentId: block.id, requestId: 'split-18', fields: { quantity: '18', serialNumber: verra(20001, 935995787, 935995804) } } });
    expect(partEvents).toHaveLength(1);
    expect(split?.tx_id).toBe(splitFrom?.tx_id);

    // The same request again: the same answer, nothing written.
    const before = await eventCount(db);
    const again = await issuer.credits.split.mutate({ id: block.id, quantity: '18', requestId: 'split-18' });
    expect(again).toEqual({ ...answer, created: false });
    // Creating the issued block again is still the same credit, as it is now.
    const created = await issuer.credits.create.mutate(fields(verra(20001, 935995787, 935996396), '610'));
    expect(created).toEqual({ created: false, credit: answer.parent });
    expect(await eventCount(db)).toBe(before);
  });

  it('the same requestId with another quantity is REQUEST_ID_REUSED naming the field; more than is left is INSUFFICIENT_QUANTITY naming what is left', async () => {
    const block = await create(fields(verra(20002, 1, 610), '610'));
    await issuer.credits.split.mutate({ id: block.id, quantity: '18', requestId: 'r-1' });
    const before = await eventCount(db);

    const reused = await refusal(issuer.credits.split.mutate({ id: block.id, quantity: '19', requestId: 'r-1' }));
    expect(reused).toMatchObject({
      code: 'CONFLICT',
      httpStatus: 409,
      domainCode: 'REQUEST_ID_REUSED',
      details: { field: 'quantity', requestId: 'r-1', quantity: '18', childId: splitChildId(block.id, 'r-1') },
    });
    expect(reused.message).toContain('quantity');

    const tooMuch = await refusal(issuer.credits.split.mutate({ id: block.id, quantity: '593', requestId: 'r-2' }));
    expect(tooMuch).toMatchObject({ code: 'CONFLICT', httpStatus: 409, domainCode: 'INSUFFICIENT_QUANTITY', details: { field: 'quantity', requested: '593', available: '592' } });
    expect(tooMuch.message).toContain('592');
    // A part must leave something behind.
    const all = await refusal(issuer.credits.split.mutate({ id: block.id, quantity: '592', requestId: 'r-3' }));
    expect(all).toMatchObject({ domainCode: 'INSUFFICIENT_QUANTITY', details: { available: '592' } });
    // A block is split in whole units.
    const fraction = await refusal(issuer.credits.split.mutate({ id: block.id, quantity: '1.5', requestId: 'r-4' }));
    expect(fraction).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, domainCode: 'INVALID_QUANTITY' });
    const missing = await refusal(issuer.credits.split.mutate({ id: `cc_${'0'.repeat(64)}`, quantity: '1', requestId: 'r-5' }));
    expect(missing).toMatchObject({ code: 'NOT_FOUND', domainCode: 'CREDIT_NOT_FOUND' });
    expect(await eventCount(db)).toBe(before);
  });

  it('an amount-only credit splits to a decimal part under a derived serial; quantities conserve exactly', async () => {
    const credit = await create(fields('AMT-SPLIT-1', '10.5'));
    const { credit: part, parent } = await issuer.credits.split.mutate({ id: credit.id, quantity: '0.25', requestId: 'a-1' });
    expect(part.id).toBe(splitChildId(credit.id, 'a-1'));
    expect(part).toMatchObject({ quantity: '0.25', unitRange: null, serialNumber: `AMT-SPLIT-1/split-${part.id.slice(3, 15)}`, parentId: credit.id });
    expect(parent).toMatchObject({ quantity: '10.25', serialNumber: 'AMT-SPLIT-1', unitRange: null });
    const { credit: small } = await issuer.credits.split.mutate({ id: credit.id, quantity: '0.000001', requestId: 'a-2' });
    expect(small.quantity).toBe('0.000001');
    expect((await get(credit.id)).credit.quantity).toBe('10.249999');
  });

  it('the serials derived for parts are the ledger’s: a create cannot take one first', async () => {
    const credit = await create(fields('AMT-DERIVED-1', '10'));
    const partId = splitChildId(credit.id, 'd-1');
    for (const serialNumber of [`AMT-DERIVED-1/split-${partId.slice(3, 15)}`, `AMT-DERIVED-1/SPLIT-${partId.slice(3, 15).toUpperCase()}`]) {
      const r = await refusal(issuer.credits.create.mutate(fields(serialNumber, '1')));
      expect(r.code).toBe('BAD_REQUEST');
      expect(r.issues[0]).toMatchObject({ path: 'serialNumber', message: expect.stringContaining('/split-') as unknown });
    }
    const { credit: part } = await issuer.credits.split.mutate({ id: credit.id, quantity: '1', requestId: 'd-1' });
    expect(part.serialNumber).toBe(`AMT-DERIVED-1/split-${partId.slice(3, 15)}`);
  });

  it('units given with an amount-only serial: the part keeps its units beside a derived serial', async () => {
    const credit = await create(fields('BLK-RANGE-3', '100', { unitRange: { first: 1, last: 100 } }));
    const { credit: part, parent } = await issuer.credits.split.mutate({ id: credit.id, quantity: '10', requestId: 'u-1' });
    expect(part).toMatchObject({ quantity: '10', unitRange: { first: 1, last: 10 }, serialNumber: `BLK-RANGE-3/split-${part.id.slice(3, 15)}` });
    expect(parent).toMatchObject({ quantity: '90', unitRange: { first: 11, last: 100 }, serialNumber: 'BLK-RANGE-3' });
    // The part's units are held: a create of them under the block's serial or units is refused.
    const r = await refusal(issuer.credits.create.mutate(fields('BLK-RANGE-3', '5', { unitRange: { first: 6, last: 10 } })));
    expect(r.code).toBe('CONFLICT');
  });

  it('a part splits again: Gold Standard serials of the sub-ranges all the way down', async () => {
    const block = await create(fields(goldStandard(20003, 1, 6630), '6630', { registry: 'Gold Standard' }));
    const { credit: part } = await issuer.credits.split.mutate({ id: block.id, quantity: '5085', requestId: 'gs-1' });
    const { credit: grandchild, parent: rest } = await issuer.credits.split.mutate({ id: part.id, quantity: '1000', requestId: 'gs-1' });
    expect(part.serialNumber).toBe(goldStandard(20003, 1, 5085));
    expect(grandchild).toMatchObject({ serialNumber: goldStandard(20003, 1, 1000), parentId: part.id, id: splitChildId(part.id, 'gs-1') });
    expect(rest).toMatchObject({ id: part.id, serialNumber: goldStandard(20003, 1001, 5085), quantity: '4085' });
    expect((await get(block.id)).credit).toMatchObject({ serialNumber: goldStandard(20003, 5086, 6630), quantity: '1545' });
  });

  it('a credit with a retirement pending cannot be split, nor cancelled; retired or cancelled credits cannot be split', async () => {
    const block = await create(fields(verra(20004, 1, 100), '100'));
    await retirer.credits.retire.mutate({ id: block.id, beneficiary: 'Acme Ltd' });
    const pending = await refusal(issuer.credits.split.mutate({ id: block.id, quantity: '1', requestId: 'p-1' }));
    expect(pending).toMatchObject({ code: 'CONFLICT', domainCode: 'RETIREMENT_PENDING', details: { pending: { beneficiary: 'Acme Ltd', reason: null } } });
    expect(await refusal(issuer.credits.cancel.mutate({ id: block.id, reason: 'correction' }))).toMatchObject({ code: 'CONFLICT', domainCode: 'RETIREMENT_PENDING' });
    const partly = await refusal(retirer.credits.retire.mutate({ id: block.id, beneficiary: 'Acme Ltd', quantity: '1', requestId: 'p-2' }));
    expect(partly.domainCode).toBe('RETIREMENT_PENDING');
  });

  it('only issuers and admins split', async () => {
    const credit = await create(fields('AMT-SPLIT-ACCESS', '10'));
    for (const client of [retirer, auditor]) {
      expect((await refusal(client.credits.split.mutate({ id: credit.id, quantity: '1', requestId: 'x' }))).code).toBe('FORBIDDEN');
    }
    await app.admin.credits.split.mutate({ id: credit.id, quantity: '1', requestId: 'x' });
  });
});

describe('credits.cancel', () => {
  it('ends a whole credit as cancelled; nothing can be done to it after, and the same cancellation again writes nothing', async () => {
    const credit = await create(fields('AMT-CANCEL-1', '10'));
    const answer = await issuer.credits.cancel.mutate({ id: credit.id, reason: 'buffer pool' });
    expect(answer).toMatchObject({ cancelled: true, credit: { id: credit.id, status: 'cancelled', quantity: '10' } });
    expect(answer).not.toHaveProperty('partOf');
    const before = await eventCount(db);
    expect(await issuer.credits.cancel.mutate({ id: credit.id, reason: 'buffer pool' })).toMatchObject({ cancelled: false });
    expect(await eventCount(db)).toBe(before);

    // Thunks, not promises: each call starts when it is awaited, so none rejects unobserved while another is awaited.
    const calls = [
      () => issuer.credits.cancel.mutate({ id: credit.id, reason: 'correction' }),
      () => issuer.credits.cancel.mutate({ id: credit.id, reason: 'correction', quantity: '1', requestId: 'c-1' }),
      () => issuer.credits.split.mutate({ id: credit.id, quantity: '1', requestId: 'c-2' }),
      () => retirer.credits.retire.mutate({ id: credit.id, beneficiary: 'Acme Ltd' }),
      () => retirer.credits.retire.mutate({ id: credit.id, beneficiary: 'Acme Ltd', quantity: '1', requestId: 'c-3' }),
    ];
    for (const call of calls) {
      const r = await refusal(call());
      expect(r).toMatchObject({ code: 'CONFLICT', domainCode: 'ALREADY_CANCELLED', details: { reason: 'buffer pool' } });
    }
    expect(await eventCount(db)).toBe(before);
    expect(await retirer.credits.retirementStatus.query({ id: credit.id })).toMatchObject({ status: 'cancelled', cancellation: { reason: 'buffer pool' } });
  });

  it('ends a part split off a block; the block keeps the rest and the part is final', async () => {
    const block = await create(fields(verra(20005, 1, 100), '100'));
    const answer = await issuer.credits.cancel.mutate({ id: block.id, reason: 'buffer pool', quantity: '10', requestId: 'cp-1' });
    const partId = splitChildId(block.id, 'cp-1');
    expect(answer).toMatchObject({ cancelled: true, partOf: block.id, credit: { id: partId, status: 'cancelled', quantity: '10', serialNumber: verra(20005, 1, 10) } });
    expect((await get(block.id)).credit).toMatchObject({ status: 'active', quantity: '90', unitRange: { first: 11, last: 100 } });
    // The same request again writes nothing; the cancelled part cannot be retired, split or cancelled for another reason.
    const before = await eventCount(db);
    expect(await issuer.credits.cancel.mutate({ id: block.id, reason: 'buffer pool', quantity: '10', requestId: 'cp-1' })).toMatchObject({ cancelled: false, credit: { id: partId } });
    for (const call of [
      () => retirer.credits.retire.mutate({ id: partId, beneficiary: 'Acme Ltd' }),
      () => issuer.credits.split.mutate({ id: partId, quantity: '1', requestId: 'cp-2' }),
      () => issuer.credits.cancel.mutate({ id: partId, reason: 'correction' }),
    ]) {
      expect((await refusal(call())).domainCode).toBe('ALREADY_CANCELLED');
    }
    expect(await eventCount(db)).toBe(before);
    // The whole rest, given as a quantity, is the block itself.
    const rest = await issuer.credits.cancel.mutate({ id: block.id, reason: 'correction', quantity: '90', requestId: 'cp-3' });
    expect(rest).toMatchObject({ cancelled: true, credit: { id: block.id, status: 'cancelled', quantity: '90' } });
    expect(rest).not.toHaveProperty('partOf');
  });

  it('requestId is required with quantity; only issuers and admins cancel', async () => {
    const credit = await create(fields('AMT-CANCEL-2', '10'));
    const r = await refusal(issuer.credits.cancel.mutate({ id: credit.id, reason: 'x', quantity: '1' }));
    expect(r.code).toBe('BAD_REQUEST');
    expect(r.issues.map((i) => i.path)).toContain('requestId');
    for (const client of [retirer, auditor]) expect((await refusal(client.credits.cancel.mutate({ id: credit.id, reason: 'x' }))).code).toBe('FORBIDDEN');
    expect((await app.admin.credits.cancel.mutate({ id: credit.id, reason: 'x' })).cancelled).toBe(true);
  });
});

describe('credits.retire with a quantity', () => {
  it('splits the part off and requests its retirement in one transaction; the worker retires the part, the block keeps the rest', async () => {
    const block = await create(fields(verra(20006, 935995787, 935996396), '610'));
    const r = await refusal(retirer.credits.retire.mutate({ id: block.id, beneficiary: 'Acme Ltd', quantity: '18' }));
    expect(r.issues.map((i) => i.path)).toContain('requestId');

    const answer = await retirer.credits.retire.mutate({ id: block.id, beneficiary: 'Acme Ltd', reason: 'FY24', quantity: '18', requestId: 'ret-1' });
    const partId = splitChildId(block.id, 'ret-1');
    expect(answer).toMatchObject({ creditId: partId, jobId: partId, partOf: block.id, deduplicated: false });
    const split = (await eventsOf(block.id)).at(-1);
    const part = await eventsOf(partId);
    expect(part.map((e) => e.type)).toEqual(['split_from', 'retirement_requested']);
    expect(new Set([split?.tx_id, ...part.map((e) => e.tx_id)]).size).toBe(1);

    // Pending: the same request again writes nothing; the part cannot be split or cancelled; the block can.
    const before = await eventCount(db);
    expect(await retirer.credits.retire.mutate({ id: block.id, beneficiary: 'Acme Ltd', reason: 'FY24', quantity: '18', requestId: 'ret-1' })).toMatchObject({
      creditId: partId,
      deduplicated: true,
    });
    expect(await eventCount(db)).toBe(before);
    expect((await refusal(issuer.credits.split.mutate({ id: partId, quantity: '1', requestId: 'x' }))).domainCode).toBe('RETIREMENT_PENDING');
    expect((await refusal(issuer.credits.cancel.mutate({ id: partId, reason: 'x' }))).domainCode).toBe('RETIREMENT_PENDING');
    const tooMuch = await refusal(retirer.credits.retire.mutate({ id: block.id, beneficiary: 'Acme Ltd', quantity: '593', requestId: 'ret-2' }));
    expect(tooMuch).toMatchObject({ code: 'CONFLICT', httpStatus: 409, domainCode: 'INSUFFICIENT_QUANTITY', details: { available: '592', requested: '593' } });
    expect(tooMuch.message).toContain('592');

    await ensureWorker();
    await waitRetired(partId);
    const retired = await get(partId);
    expect(retired.credit).toMatchObject({ status: 'retired', quantity: '18', serialNumber: verra(20006, 935995787, 935995804), parentId: block.id });
    expect(retired.events.map((e) => e.type)).toEqual(['split_from', 'retirement_requested', 'retired']);
    expect((await get(block.id)).credit).toMatchObject({ status: 'active', quantity: '592', unitRange: { first: 935995805, last: 935996396 } });
    expect(await retirer.credits.retirementStatus.query({ id: block.id })).toMatchObject({ status: 'not_requested' });
    // Once retired, the same request again is refused like any retirement of a retired credit.
    expect((await refusal(retirer.credits.retire.mutate({ id: block.id, beneficiary: 'Acme Ltd', reason: 'FY24', quantity: '18', requestId: 'ret-1' }))).domainCode).toBe('ALREADY_RETIRED');
  });

  it('without a quantity, retire works as before: the credit itself', async () => {
    await ensureWorker();
    const block = await create(fields(verra(20007, 1, 10), '10'));
    const answer = await retirer.credits.retire.mutate({ id: block.id, beneficiary: 'Acme Ltd' });
    expect(answer).toMatchObject({ creditId: block.id, jobId: block.id, deduplicated: false });
    expect(answer).not.toHaveProperty('partOf');
    await waitRetired(block.id);
    expect((await get(block.id)).credit).toMatchObject({ status: 'retired', quantity: '10' });
  });
});

describe('lineage and the status filter', () => {
  it('credits.get shows the parent chain up to the issued block, and the parts carved off', async () => {
    const block = await create(fields(goldStandard(20010, 1, 100), '100', { registry: 'Gold Standard' }));
    const { credit: a } = await issuer.credits.split.mutate({ id: block.id, quantity: '10', requestId: 'l-1' });
    const { credit: b } = await issuer.credits.split.mutate({ id: block.id, quantity: '20', requestId: 'l-2' });
    const { credit: a1 } = await issuer.credits.split.mutate({ id: a.id, quantity: '3', requestId: 'l-1' });

    const ofBlock = await get(block.id);
    expect(ofBlock.lineage.parents).toEqual([]);
    expect(ofBlock.lineage.parts.map((p) => [p.id, p.serialNumber])).toEqual([
      [a.id, goldStandard(20010, 4, 10)],
      [b.id, goldStandard(20010, 11, 30)],
    ]);
    const ofGrandchild = await get(a1.id);
    expect(ofGrandchild.lineage.parents.map((p) => p.id)).toEqual([a.id, block.id]);
    expect(ofGrandchild.lineage.parts).toEqual([]);
    expect(ofGrandchild.credit).toMatchObject({ parentId: a.id, serialNumber: goldStandard(20010, 1, 3), unitRange: { first: 1, last: 3 } });
    expect((await get(a.id)).lineage).toMatchObject({ parents: [{ id: block.id }], parts: [{ id: a1.id }] });
  });

  it('credits.list filters by status, cancelled included', async () => {
    const projectName = 'Status Filter Project';
    const one = await create({ ...fields('AMT-LIST-1', '5'), projectName });
    const two = await create({ ...fields('AMT-LIST-2', '5'), projectName });
    await create({ ...fields('AMT-LIST-3', '5'), projectName });
    await issuer.credits.cancel.mutate({ id: one.id, reason: 'correction' });
    const { credit: part } = await issuer.credits.cancel.mutate({ id: two.id, reason: 'correction', quantity: '2', requestId: 'ls-1' });
    const cancelled = await auditor.credits.list.query({ status: 'cancelled', projectName });
    expect(cancelled.items.map((c) => c.id).sort()).toEqual([one.id, part.id].sort());
    expect(cancelled.items.every((c) => c.status === 'cancelled')).toBe(true);
    const active = await auditor.credits.list.query({ status: 'active', projectName });
    expect(active.items).toHaveLength(2);
    expect(active.items.find((c) => c.id === two.id)?.quantity).toBe('3');
  });
});

describe('supply.totals', () => {
  const registry = 'Supply Test Registry';
  const totals = (input: { at?: string } = {}) => auditor.supply.totals.query({ registry, ...input });
  const strip = ({ at: _at, ...t }: Awaited<ReturnType<typeof totals>>) => t;

  it('counts each unit once however the block is split; with `at`, as the events stood then', async () => {
    await ensureWorker();
    const empty = strip(await totals());
    expect(empty).toEqual({ issued: '0', active: '0', retired: '0', cancelled: '0', pendingRetirement: '0' });

    const block = await create(fields(verra(20020, 935995787, 935996396), '610', { registry }));
    await create(fields('AMT-SUPPLY-1', '2.5', { registry }));
    const afterCreate = strip(await totals());
    expect(afterCreate).toEqual({ issued: '612.5', active: '612.5', retired: '0', cancelled: '0', pendingRetirement: '0' });
    const beforeRetirement = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));

    const { creditId } = await retirer.credits.retire.mutate({ id: block.id, beneficiary: 'Acme Ltd', quantity: '18', requestId: 'sup-1' });
    await waitRetired(creditId);
    const afterRetirement = strip(await totals());
    expect(afterRetirement).toEqual({ issued: '612.5', active: '594.5', retired: '18', cancelled: '0', pendingRetirement: '0' });
    // At the instant the request was recorded, the part was pending (and still active).
    const [requested] = (await get(creditId)).events.filter((e) => e.type === 'retirement_requested');
    const whilePending = strip(await totals({ at: requested?.occurredAt ?? '' }));
    expect(whilePending).toEqual({ issued: '612.5', active: '612.5', retired: '0', cancelled: '0', pendingRetirement: '18' });
    // Between the creates and the retirement.
    expect(strip(await totals({ at: beforeRetirement }))).toEqual(afterCreate);
    console.log(
      `supply.totals for a Verra block of 610 and an amount-only 2.5, registry ${JSON.stringify(registry)}:\n` +
        `  before the partial retirement of 18: ${JSON.stringify(afterCreate)}\n` +
        `  while it was pending (at ${requested?.occurredAt}): ${JSON.stringify(whilePending)}\n` +
        `  after the worker retired it:        ${JSON.stringify(afterRetirement)}`,
    );

    // Splits count nothing twice; cancellation moves units out of active.
    await issuer.credits.split.mutate({ id: block.id, quantity: '100', requestId: 'sup-2' });
    await issuer.credits.cancel.mutate({ id: block.id, reason: 'buffer pool', quantity: '10', requestId: 'sup-3' });
    const { credit: amountPart } = await issuer.credits.split.mutate({ id: (await create(fields('AMT-SUPPLY-2', '1.000001', { registry }))).id, quantity: '0.000001', requestId: 'sup-4' });
    await issuer.credits.cancel.mutate({ id: amountPart.id, reason: 'correction' });
    expect(strip(await totals())).toEqual({ issued: '613.500001', active: '585.5', retired: '18', cancelled: '10.000001', pendingRetirement: '0' });
    // Filters: vintage and project name; another registry sees none of it.
    expect((await auditor.supply.totals.query({ registry, vintage: 2017 })).issued).toBe('0');
    expect((await auditor.supply.totals.query({ registry, projectName: 'hydro' })).issued).toBe('613.500001');
    expect((await auditor.supply.totals.query({ registry: 'No Such Registry' })).issued).toBe('0');
  });

  it('is for auditors and admins', async () => {
    for (const client of [issuer, retirer]) expect((await refusal(client.supply.totals.query({}))).code).toBe('FORBIDDEN');
    expect(typeof (await app.admin.supply.totals.query({})).issued).toBe('string');
  });
});

describe('replaying a registry’s record', () => {
  async function replay(registry: string, blockSerial: string, issued: string, record: { quantity: string; serial: string }[]) {
    await ensureWorker();
    const block = await create(fields(blockSerial, issued, { registry }));
    const retiredIds: string[] = [];
    for (const [i, r] of record.entries()) {
      const { creditId } = await retirer.credits.retire.mutate({ id: block.id, beneficiary: 'Registry Replay', quantity: r.quantity, requestId: `replay-${i}` });
      retiredIds.push(creditId);
      await waitRetired(creditId);
    }
    const ledger = await Promise.all(retiredIds.map(async (id) => (await get(id)).credit));
    console.log(
      `${registry} replay of ${blockSerial}:\n${record
        .map((r, i) => `  registry ${r.quantity.padStart(5)} ${r.serial}\n  ledger   ${ledger[i]?.quantity.padStart(5)} ${ledger[i]?.serialNumber} (${ledger[i]?.status})`)
        .join('\n')}`,
    );
    expect(ledger.map((c) => [c.quantity, c.serialNumber, c.status])).toEqual(record.map((r) => [r.quantity, r.serial, 'retired']));
    return { block, ledger };
  }

  it('Verra: the ledger’s serials of the retired parts are the registry’s', async () => {
    const { block, ledger } = await replay('Verra', '19298-935995787-935996396-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0', '610', VERRA_RECORD);
    // The last retirement took all that was left: the block itself, under the registry's serial of those units.
    expect(ledger[2]?.id).toBe(block.id);
  });

  it('Gold Standard: the ledger’s serials of the retired parts are the registry’s', async () => {
    await replay('Gold Standard', 'GS1-1-TR-GS7652-12-2025-29983-1-6630', '6630', GS_RECORD);
  });
});

describe('admin export', () => {
  it('carries the lineage: a split names its part and request, the part its parent, the request and its units', async () => {
    const block = await create(fields(verra(40001, 1, 100), '100'));
    const { credit: part } = await issuer.credits.split.mutate({ id: block.id, quantity: '30', requestId: 'export-1' });
    // Export reads the settled feed; the watermark is cluster-wide, so another file's open transaction can hold it back.
    await waitForSettledFeed(app.databaseUrl);
    const r = await runCli(['export', '--format', 'jsonl', '--quiet'], cliEnv(app));
    expect(r.code, r.stderr).toBe(0);
    const exported = r.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { creditId: string; type: string; data: Record<string, unknown> })
      .filter((e) => e.creditId === block.id || e.creditId === part.id);
    expect(exported.map((e) => [e.creditId, e.type])).toEqual([
      [block.id, 'created'],
      [block.id, 'split'],
      [part.id, 'split_from'],
    ]);
    expect(exported[1]?.data).toEqual({ childId: part.id, requestId: 'export-1', quantity: '30', unitRange: { first: 1, last: 30 } });
    expect(exported[2]?.data).toMatchObject({ parentId: block.id, requestId: 'export-1', fields: { quantity: '30', serialNumber: verra(40001, 1, 30) } });
  });
});

describe('admin verify', () => {
  type VerifyResult = { ok: boolean; inconsistencies: { kind: string; creditId: string; position: string | null; message: string }[] };
  const verify = async (...extra: string[]) => {
    const r = await runCli(['verify', '--json', ...extra], cliEnv(app));
    return { code: r.code, result: r.json<VerifyResult>() };
  };

  it('is OK after all of the above', async () => {
    // Everything requested has been retired by the worker (no stream is left half-way).
    await ensureWorker();
    await waitFor('no retirement pending', async () => (await db.query(`select 1 from credits where retirement_state = 'pending'`)).rows.length === 0 || undefined);
    const { code, result } = await verify();
    expect(result.inconsistencies).toEqual([]);
    expect(code).toBe(0);
    expect(result.ok).toBe(true);
  });

  it('fails naming the split when a split’s quantity is edited (its hash recomputed)', async () => {
    const credit = await create(fields('AMT-TAMPER-1', '10'));
    await issuer.credits.split.mutate({ id: credit.id, quantity: '4', requestId: 't-1' });
    const { rows } = await db.query<Record<string, unknown>>(
      `select position::text, credit_id, version, type, payload, actor, occurred_at, prev_hash from events where credit_id = $1 and type = 'split'`,
      [credit.id],
    );
    const row = rows[0];
    if (!row) throw new Error('no split event');
    const edited = { ...(row.payload as Record<string, unknown>), quantity: '3' };
    const hash = eventHash({
      creditId: credit.id,
      version: row.version as number,
      type: 'split',
      data: edited as Extract<StoredEvent, { type: 'split' }>['data'],
      actor: row.actor as string,
      occurredAt: row.occurred_at as Date,
      prevHash: row.prev_hash as string,
    });
    await withPgClient(app.databaseUrl, async (c) => {
      await c.query('begin');
      await c.query('alter table events disable trigger events_immutable');
      await c.query(`update events set payload = $1, hash = $2 where position = $3`, [JSON.stringify(edited), hash, row.position]);
      await c.query('alter table events enable trigger events_immutable');
      await c.query('commit');
    });

    const { code, result } = await verify('--keep-going');
    console.log(`verify after the edit:\n${result.inconsistencies.map((i) => `  ${i.kind}: ${i.message}`).join('\n')}`);
    expect(code).toBe(1);
    expect(result.ok).toBe(false);
    const kinds = result.inconsistencies.map((i) => i.kind);
    // The hash chain holds (it was recomputed); the split no longer matches its part, nor the supply its blocks.
    expect(kinds).not.toContain('hash_mismatch');
    expect(kinds).not.toContain('broken_link');
    const partMismatch = result.inconsistencies.find((i) => i.kind === 'part_mismatch');
    expect(partMismatch).toMatchObject({ creditId: credit.id, position: row.position });
    expect(partMismatch?.message).toContain(`split at ${row.position as string}`);
    expect(partMismatch?.message).toContain('holds 4, the split carved 3');
    expect(kinds).toContain('supply_mismatch');
    expect(kinds).toContain('projection_mismatch');
  });
});
