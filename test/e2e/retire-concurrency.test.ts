import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retireAndWait, type LedgerClient } from '../../client/index.js';
import { rejectionOf, type ApiError } from '../helpers/api-errors.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import {
  createCredits,
  eventCount,
  exactlyOnceReport,
  openE2eDb,
  pendingCount,
  retiredEventCount,
  settleAll,
  statusesOf,
  waitFor,
  workerEnv,
} from '../helpers/retirement-e2e.js';
import { killAllWorkers, spawnWorker, waitForOutput, type WorkerProcess } from '../helpers/worker-process.js';

/*
 * The asynchronous retirement flow end to end: the real API, real
 * PostgreSQL and Redis, and two real worker processes sharing the queue.
 * Exactly-once is always judged from PostgreSQL's event log, never the API.
 */

let app: TestApp;
let db: Pool;
let retirerKey: string;
let retirer: LedgerClient;
let auditor: LedgerClient;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  app = await startTestApp();
  db = openE2eDb(app.databaseUrl);
  const r = await app.as('retirer');
  retirerKey = r.key;
  retirer = r.client;
  auditor = (await app.as('auditor')).client;
  for (const name of ['a', 'b']) workers.push(spawnWorker(workerEnv(app.env, `e2e-worker-${name}`, { WORKER_CONCURRENCY: '4' })));
  await Promise.all(workers.map((w) => waitForOutput(w, /retirement worker started/)));
});

afterAll(async () => {
  await killAllWorkers();
  await db?.end();
  await app?.close();
});

type Status = Awaited<ReturnType<LedgerClient['credits']['retirementStatus']['query']>>;

const waitRetired = (id: string, timeoutMs = 30_000): Promise<Status> =>
  waitFor(`credit ${id} to be retired`, async () => {
    const s = await retirer.credits.retirementStatus.query({ id });
    return s.status === 'retired' ? s : undefined;
  }, { timeoutMs, intervalMs: 50 });

const eventsOf = async (id: string) =>
  (await db.query<{ type: string; payload: Record<string, unknown> }>(`select type, payload from events where credit_id = $1 order by version`, [id])).rows;

describe('50 concurrent retire calls on one credit', () => {
  it('same beneficiary: one request recorded, one retirement, every caller told the same story', async () => {
    const [id] = await createCredits(app.admin, 1);
    if (!id) throw new Error('no credit');
    // Separate clients: separate HTTP requests, not one batch.
    const clients = Array.from({ length: 50 }, () => app.client(retirerKey));
    const results = await settleAll(clients.map((c) => c.credits.retire.mutate({ id, beneficiary: 'Acme Climate Fund', reason: 'FY2025 offsets' })));

    const ok = results.flatMap((r) => (r.ok ? [r.value] : []));
    const refused = results.flatMap((r) => (r.ok ? [] : [r.error as ApiError]));
    expect(ok.length + refused.length).toBe(50);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const answer of ok) {
      expect(answer).toMatchObject({ creditId: id, jobId: id });
      expect(['queued', 'processing']).toContain(answer.status);
    }
    expect(ok.filter((a) => !a.deduplicated)).toHaveLength(1);

    const final = await waitRetired(id);
    expect(final.retirement).toMatchObject({ beneficiary: 'Acme Climate Fund', reason: 'FY2025 offsets' });
    // Anyone refused came after the retirement, and was told about that very retirement.
    for (const err of refused) {
      expect(err.data?.code).toBe('CONFLICT');
      expect(err.data?.domainCode).toBe('ALREADY_RETIRED');
      expect(err.data?.details).toMatchObject({ retiredAt: final.retiredAt, beneficiary: 'Acme Climate Fund', reason: 'FY2025 offsets' });
    }

    const events = await eventsOf(id);
    expect(events.map((e) => e.type)).toEqual(['created', 'retirement_requested', 'retired']);
    expect(await exactlyOnceReport(db, [id])).toMatchObject({ missing: [], doubled: [] });
  });

  it('mixed beneficiaries: the first request wins, the others get CONFLICT naming beneficiary', async () => {
    const [id] = await createCredits(app.admin, 1);
    if (!id) throw new Error('no credit');
    const beneficiaryOf = (i: number) => (i % 3 === 0 ? 'Globex Corporation' : 'Acme Climate Fund');
    const calls = Array.from({ length: 50 }, (_, i) => app.client(retirerKey).credits.retire.mutate({ id, beneficiary: beneficiaryOf(i) }));
    const results = await settleAll(calls);

    const fresh = results.flatMap((r, i) => (r.ok && !r.value.deduplicated ? [i] : []));
    expect(fresh).toHaveLength(1);
    const winner = beneficiaryOf(fresh[0] ?? -1);
    const final = await waitRetired(id);
    expect(final.retirement?.beneficiary).toBe(winner);

    results.forEach((r, i) => {
      if (r.ok) {
        // Only the winner's beneficiary is ever accepted, and always as the same job.
        expect(beneficiaryOf(i)).toBe(winner);
        expect(r.value).toMatchObject({ creditId: id, jobId: id });
        return;
      }
      const err = r.error as ApiError;
      expect(err.data?.code).toBe('CONFLICT');
      if (err.data?.domainCode === 'ALREADY_RETIRED') {
        expect(err.data.details).toMatchObject({ retiredAt: final.retiredAt, beneficiary: winner });
      } else {
        // Refused while the winner's request was pending: only a different beneficiary can be refused.
        expect(beneficiaryOf(i)).not.toBe(winner);
        expect(err.data?.domainCode).toBe('RETIREMENT_PENDING_DIFFERS');
        expect(err.message).toMatch(/beneficiary/);
        expect(err.data?.details).toMatchObject({ differingFields: ['beneficiary'], pending: { beneficiary: winner } });
      }
    });
    // Every caller with the other beneficiary was refused.
    expect(results.filter((r, i) => beneficiaryOf(i) !== winner && r.ok)).toHaveLength(0);

    const events = await eventsOf(id);
    expect(events.map((e) => e.type)).toEqual(['created', 'retirement_requested', 'retired']);
    expect(events[2]?.payload.beneficiary).toBe(winner);
    expect(await exactlyOnceReport(db, [id])).toMatchObject({ missing: [], doubled: [] });
  });
});

describe('bulk', () => {
  it('500 credits retired at once through two workers: each exactly once, none left pending', async () => {
    const ids = await createCredits(app.admin, 500);
    const doneBefore = workers.map((w) => (w.output().match(/retirement job done/g) ?? []).length);
    // Ten clients, each sending its 50 calls as batched HTTP requests, all at once.
    const clients = Array.from({ length: 10 }, () => app.client(retirerKey));
    const clientFor = (i: number) => clients[i % clients.length] ?? retirer;
    const answers = await Promise.all(ids.map((id, i) => clientFor(i).credits.retire.mutate({ id, beneficiary: `Bulk Buyer ${i % 7}` })));
    answers.forEach((a, i) => {
      expect(a).toMatchObject({ creditId: ids[i], jobId: ids[i], deduplicated: false });
    });

    await waitFor('all 500 credits retired in PostgreSQL', async () => (await retiredEventCount(db, ids)) === 500 || undefined, {
      timeoutMs: 90_000,
      intervalMs: 250,
    });
    expect(await exactlyOnceReport(db, ids)).toMatchObject({ missing: [], doubled: [] });
    expect(await pendingCount(db)).toBe(0);
    const statuses = await statusesOf(auditor, ids);
    expect([...statuses.values()].filter((s) => s.status !== 'retired')).toEqual([]);
    // Both workers took part.
    workers.forEach((w, i) => {
      expect((w.output().match(/retirement job done/g) ?? []).length).toBeGreaterThan(doneBefore[i] ?? 0);
    });
  });
});

describe('history', () => {
  it('credits.stateAt shows the credit active before its retirement and retired after it', async () => {
    const [id] = await createCredits(app.admin, 1);
    if (!id) throw new Error('no credit');
    await retirer.credits.retire.mutate({ id, beneficiary: 'Time Traveller Ltd', reason: 'history check' });
    await waitRetired(id);

    const { events } = await app.admin.credits.get.query({ id });
    const at = (type: string) => {
      const e = events.find((x) => x.type === type);
      if (!e) throw new Error(`no ${type} event`);
      return new Date(e.occurredAt);
    };
    const created = at('created');
    const requested = at('retirement_requested');
    const retired = at('retired');
    expect(requested.getTime()).toBeLessThan(retired.getTime());
    const stateAt = (d: Date) => auditor.credits.stateAt.query({ id, at: d.toISOString() });

    const beforeCreation = await rejectionOf(stateAt(new Date(created.getTime() - 1)));
    expect(beforeCreation.data?.code).toBe('NOT_FOUND');

    expect(await stateAt(created)).toMatchObject({ credit: { id, status: 'active', retiredAt: null }, retirementPending: false });
    expect(await stateAt(requested)).toMatchObject({ credit: { status: 'active', retiredAt: null }, retirementPending: true });
    expect(await stateAt(new Date(retired.getTime() - 1))).toMatchObject({ credit: { status: 'active', retiredAt: null }, retirementPending: true });
    expect(await stateAt(retired)).toMatchObject({ credit: { status: 'retired', retiredAt: retired.toISOString() }, retirementPending: false });
    expect(await stateAt(new Date())).toMatchObject({ credit: { status: 'retired', retiredAt: retired.toISOString() }, retirementPending: false });
  });
});

describe('refused requests write nothing', () => {
  it('unknown credit, already retired, empty beneficiary, 10 kB reason and wrong types get clear errors', async () => {
    const [id, retiredId] = await createCredits(app.admin, 2);
    if (!id || !retiredId) throw new Error('no credits');
    await retirer.credits.retire.mutate({ id: retiredId, beneficiary: 'First Owner', reason: 'first' });
    const done = await waitRetired(retiredId);

    const eventsBefore = await eventCount(db);
    const creditsBefore = (await db.query(`select * from credits order by id`)).rows;

    const unknownId = `cc_${'0'.repeat(64)}`;
    const notFound = await rejectionOf(retirer.credits.retire.mutate({ id: unknownId, beneficiary: 'Nobody' }));
    expect(notFound.data?.code).toBe('NOT_FOUND');
    expect(notFound.message).toContain(unknownId);
    expect((await rejectionOf(retirer.credits.retirementStatus.query({ id: unknownId }))).data?.code).toBe('NOT_FOUND');

    const again = await rejectionOf(retirer.credits.retire.mutate({ id: retiredId, beneficiary: 'Second Owner' }));
    expect(again.data?.code).toBe('CONFLICT');
    expect(again.data?.domainCode).toBe('ALREADY_RETIRED');
    expect(again.message).toContain(done.retiredAt);
    expect(again.data?.details).toEqual({ retiredAt: done.retiredAt, beneficiary: 'First Owner', reason: 'first' });

    const badInputs: { input: unknown; path: string; message: RegExp }[] = [
      { input: { id, beneficiary: '' }, path: 'beneficiary', message: /beneficiary must not be empty/ },
      { input: { id, beneficiary: '   ' }, path: 'beneficiary', message: /beneficiary must not be empty/ },
      { input: { id }, path: 'beneficiary', message: /beneficiary is required/ },
      { input: { id, beneficiary: 'Acme', reason: 'x'.repeat(10 * 1024) }, path: 'reason', message: /reason must be at most 1000 characters, got 10240/ },
      { input: { id: 42, beneficiary: 'Acme' }, path: 'id', message: /id must be a string/ },
      { input: { id: 'cc_nothex', beneficiary: 'Acme' }, path: 'id', message: /id must be "cc_" followed by 64/ },
      { input: { id, beneficiary: 7 }, path: 'beneficiary', message: /beneficiary must be a string/ },
      { input: { id, beneficiary: ['Acme'] }, path: 'beneficiary', message: /beneficiary must be a string/ },
      { input: { id, beneficiary: 'Acme', reason: 12 }, path: 'reason', message: /reason must be a string or null/ },
      { input: { id, beneficiary: 'Acme', tons: 1 }, path: '(input)', message: /unknown field\(s\): tons/ },
      // A part of the credit must be named, so that a retry finds it.
      { input: { id, beneficiary: 'Acme', quantity: 1 }, path: 'requestId', message: /requestId is required with quantity/ },
    ];
    for (const bad of badInputs) {
      const err = await rejectionOf(retirer.credits.retire.mutate(bad.input as never));
      expect(err.data?.code, JSON.stringify(bad.input).slice(0, 80)).toBe('BAD_REQUEST');
      expect(err.data?.httpStatus).toBe(400);
      expect(err.data?.issues).toEqual(expect.arrayContaining([{ path: bad.path, message: expect.stringMatching(bad.message) as string }]));
      expect(err.message).toMatch(bad.message);
    }

    expect(await eventCount(db)).toBe(eventsBefore);
    expect((await db.query(`select * from credits order by id`)).rows).toEqual(creditsBefore);
    expect(await retirer.credits.retirementStatus.query({ id })).toEqual({ status: 'not_requested', attempts: 0 });
  });
});

describe('retireAndWait', () => {
  it('requests, polls with backoff and returns the final retired status', async () => {
    const [id] = await createCredits(app.admin, 1);
    if (!id) throw new Error('no credit');
    const started = Date.now();
    const result = await retireAndWait(retirer, id, { beneficiary: 'Waiting Buyer', reason: 'wait for it' }, { timeoutMs: 30_000, initialDelayMs: 20, maxDelayMs: 500 });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(result).toMatchObject({
      status: 'retired',
      timedOut: false,
      request: { creditId: id, jobId: id, deduplicated: false },
      retirement: { beneficiary: 'Waiting Buyer', reason: 'wait for it' },
    });
    expect(await exactlyOnceReport(db, [id])).toMatchObject({ missing: [], doubled: [] });

    // Once retired, asking again is refused (thrown, not a status), naming the retirement that exists.
    const err = await rejectionOf(retireAndWait(retirer, id, { beneficiary: 'Waiting Buyer' }, { timeoutMs: 5_000 }));
    expect(err.data?.domainCode).toBe('ALREADY_RETIRED');
    expect(err.data?.details).toMatchObject({ retiredAt: result.retiredAt, beneficiary: 'Waiting Buyer' });
  });
});
