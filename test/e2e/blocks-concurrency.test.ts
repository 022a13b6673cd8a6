import type { Pool } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createLedgerClient, ledgerError, type LedgerClient, type LedgerOutputs } from '../../client/index.js';
import { splitChildId } from '../../server/credits/canonical-id.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { exactlyOnceReport, openE2eDb, pendingCount, retiredEventCount, settleAll, waitFor, workerEnv } from '../helpers/retirement-e2e.js';
import { killAllWorkers, spawnWorker, waitForOutput, type WorkerProcess } from '../helpers/worker-process.js';

/*
 * Many partial retirements of one block at the same instant, retired by real
 * worker processes; then the same with one of two workers killed (SIGKILL)
 * while it holds a part's row lock. Judged from PostgreSQL, not the API:
 * which requests fit and which did not, which units each retired part holds,
 * and that each part was retired exactly once.
 *
 * The block has an odd number of units and every request an even quantity,
 * so no request ever takes exactly what is left: each one either carves a
 * part or is refused for asking more than is left.
 */

const BLOCK_UNITS = 1001;
const REQUESTS = 50;
/** 2, 4, … 100: 2,550 together, far more than the block. */
const quantityOf = (i: number) => String(2 * (i + 1));
const serial = (issuance: number, first: number, last: number) => `${issuance}-${first}-${last}-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0`;

type Ctx = { app: TestApp; db: Pool; retirer: LedgerClient };
let ctx: Ctx | null = null;

async function setUp(env: Record<string, string> = {}): Promise<Ctx> {
  const app = await startTestApp(env);
  const db = openE2eDb(app.databaseUrl, 5);
  // Every call a request of its own: the 50 reach the server together, not as one batch.
  const retirer = createLedgerClient({ url: app.url, apiKey: (await app.as('retirer')).key, batch: false });
  ctx = { app, db, retirer };
  return ctx;
}

afterEach(async () => {
  await killAllWorkers();
  if (ctx) {
    await ctx.db.end();
    await ctx.app.close();
    ctx = null;
  }
});

const started = async (w: WorkerProcess) => {
  await waitForOutput(w, /retirement worker started/);
  return w;
};

type Answer = LedgerOutputs['credits']['retire'];

/** Creates the block and sends the 50 partial retirements at once; checks each answer against what PostgreSQL recorded. */
async function retireFiftyParts({ app, db, retirer }: Ctx, issuance: number) {
  const { credit: block } = await app.admin.credits.create.mutate({
    projectName: 'Concurrent Hydro',
    registry: 'Verra',
    vintage: 2018,
    quantity: String(BLOCK_UNITS),
    serialNumber: serial(issuance, 1, BLOCK_UNITS),
  });
  const requests = Array.from({ length: REQUESTS }, (_, i) => ({ requestId: `part-${i}`, quantity: quantityOf(i) }));
  const settled = await settleAll(
    requests.map((r) => retirer.credits.retire.mutate({ id: block.id, beneficiary: 'Concurrent Buyer', quantity: r.quantity, requestId: r.requestId })),
  );

  // The order the parts were carved in is the order of the block's split events.
  const { rows: splits } = await db.query<{ payload: { childId: string; requestId: string; quantity: string; unitRange: { first: number; last: number } } }>(
    `select payload from events where credit_id = $1 and type = 'split' order by version`,
    [block.id],
  );
  const carved = new Map(splits.map((s, order) => [s.payload.requestId, { ...s.payload, order }]));
  // What was left after each part, from the whole block down.
  const leftAfter = [BLOCK_UNITS];
  for (const s of splits) leftAfter.push((leftAfter.at(-1) ?? 0) - Number(s.payload.quantity));

  const accepted: { requestId: string; answer: Answer }[] = [];
  const refusedAvailable: number[] = [];
  settled.forEach((s, i) => {
    const r = requests[i];
    if (!r) throw new Error('unreachable');
    const part = carved.get(r.requestId);
    if (s.ok) {
      // It fitted: its part was carved, and retiring that part was requested (the job's ID is the part's).
      const partId = splitChildId(block.id, r.requestId);
      expect(s.value).toMatchObject({ creditId: partId, jobId: partId, partOf: block.id, deduplicated: false });
      expect(part?.childId).toBe(partId);
      expect(Number(r.quantity)).toBeLessThan(leftAfter[part?.order ?? -1] ?? 0);
      accepted.push({ requestId: r.requestId, answer: s.value });
      return;
    }
    // It did not fit: INSUFFICIENT_QUANTITY naming what was left then, less than it asked for; nothing was carved for it.
    const e = ledgerError(s.error);
    expect(e.kind, `${r.requestId}: ${e.message}`).toBe('CONFLICT');
    if (e.kind !== 'CONFLICT') return;
    expect(e.domainCode).toBe('INSUFFICIENT_QUANTITY');
    const details = e.data.details as { requested: string; available: string };
    expect(details.requested).toBe(r.quantity);
    const available = Number(details.available);
    expect(available).toBeLessThan(Number(r.quantity));
    expect(leftAfter).toContain(available);
    expect(part).toBeUndefined();
    refusedAvailable.push(available);
  });
  expect(accepted.length).toBe(splits.length);
  expect(accepted.length + refusedAvailable.length).toBe(REQUESTS);
  // Some fitted and some did not.
  expect(accepted.length).toBeGreaterThan(0);
  expect(refusedAvailable.length).toBeGreaterThan(0);
  // Every request that did not fit was refused against a remainder no smaller than the final one.
  const finalLeft = leftAfter.at(-1) ?? 0;
  for (const a of refusedAvailable) expect(a).toBeGreaterThanOrEqual(finalLeft);
  return { block, partIds: accepted.map((a) => a.answer.creditId), finalLeft };
}

/** Every part retired exactly once; the retired parts tile the block's low end without a gap; the block holds the rest. */
async function expectLowEndRetired({ db }: Ctx, blockId: string, partIds: string[], finalLeft: number) {
  await waitFor(`all ${partIds.length} parts retired`, async () => (await retiredEventCount(db, partIds)) === partIds.length || undefined, {
    timeoutMs: 60_000,
    intervalMs: 200,
  });
  expect(await exactlyOnceReport(db, partIds)).toEqual({ missing: [], doubled: [], unexpected: [] });
  expect(await pendingCount(db)).toBe(0);

  const { rows } = await db.query<{ id: string; unit_first: string; unit_last: string; status: string; quantity: string }>(
    `select id, unit_first, unit_last, status, quantity::text from credits where parent_id = $1 or id = $1`,
    [blockId],
  );
  const ranges = rows.map((r) => ({ id: r.id, first: Number(r.unit_first), last: Number(r.unit_last), status: r.status, quantity: Number(r.quantity) }));
  ranges.sort((a, b) => a.first - b.first);
  let next = 1;
  for (const r of ranges) {
    expect(r.first, `credit ${r.id} starts where the previous one ended`).toBe(next);
    expect(r.quantity).toBe(r.last - r.first + 1);
    next = r.last + 1;
  }
  expect(next).toBe(BLOCK_UNITS + 1);
  // The low end is retired, part by part; the block keeps the top.
  const block = ranges.at(-1);
  expect(block).toMatchObject({ id: blockId, status: 'active', first: BLOCK_UNITS - finalLeft + 1, last: BLOCK_UNITS });
  expect(ranges.slice(0, -1).map((r) => r.status)).toEqual(partIds.map(() => 'retired'));
  expect(new Set(ranges.slice(0, -1).map((r) => r.id))).toEqual(new Set(partIds));
  // Each retired unit once: the retired ranges are disjoint (they tile) and every part has one retired event.
  const { rows: retired } = await db.query<{ credit_id: string; n: string }>(
    `select credit_id, count(*) as n from events where type = 'retired' and credit_id = any($1) group by credit_id`,
    [partIds],
  );
  expect(retired.every((r) => r.n === '1')).toBe(true);
  expect(retired).toHaveLength(partIds.length);
}

describe('50 partial retirements of one block at once', () => {
  it('exactly those that fit are carved and retired; the rest are INSUFFICIENT_QUANTITY; the retired parts tile the low end', { timeout: 120_000 }, async () => {
    const c = await setUp();
    for (const name of ['a', 'b']) await started(spawnWorker(workerEnv(c.app.env, `blocks-e2e-${name}`, { WORKER_CONCURRENCY: '4' })));
    const { block, partIds, finalLeft } = await retireFiftyParts(c, 40001);
    await expectLowEndRetired(c, block.id, partIds, finalLeft);
    console.log(`50 at once: ${partIds.length} parts carved and retired, ${REQUESTS - partIds.length} refused; ${finalLeft} of ${BLOCK_UNITS} units left`);
  });
});

describe('50 partial retirements with two workers, one killed with SIGKILL mid-run', () => {
  it('the other worker takes the killed one’s job over; every part is retired exactly once, tiling the low end', { timeout: 180_000 }, async () => {
    const c = await setUp({ WORKER_LOCK_DURATION_MS: '3000', RECONCILE_INTERVAL_MS: '1000' });
    // Worker A pauses (test-only knob) right after taking each part's row lock, one job at a time.
    const a = await started(spawnWorker(workerEnv(c.app.env, 'blocks-e2e-holder', { WORKER_CONCURRENCY: '1', WORKER_TEST_HOLD_LOCK_MS: '600000' })));
    const { block, partIds, finalLeft } = await retireFiftyParts(c, 40002);

    const held = await waitFor('worker A to hold a part’s row lock mid-job', async () => {
      const { rows } = await c.db.query<{ pid: number }>(
        `select pid from pg_stat_activity
          where datname = current_database() and application_name = 'blocks-e2e-holder'
            and state = 'idle in transaction' and query ilike '%for update%'`,
      );
      return rows[0];
    });
    const b = await started(spawnWorker(workerEnv(c.app.env, 'blocks-e2e-taker', { WORKER_CONCURRENCY: '4' })));
    await waitFor('worker B to retire every part but the one A holds', async () => (await retiredEventCount(c.db, partIds)) === partIds.length - 1 || undefined, {
      timeoutMs: 60_000,
      intervalMs: 200,
    });

    expect(await a.stop('SIGKILL')).toBe('SIGKILL');
    await waitFor('the killed worker’s backend to go away', async () => {
      const { rows } = await c.db.query(`select 1 from pg_stat_activity where pid = $1`, [held.pid]);
      return rows.length === 0 || undefined;
    });
    await expectLowEndRetired(c, block.id, partIds, finalLeft);
    expect(b.proc.exitCode).toBeNull();
  });
});
