import { UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETIREMENT_QUEUE, RetirementQueue } from '../../server/queue/retirement-queue.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { cliEnv, generatedCredit, runCli } from '../helpers/cli-run.js';

/*
 * `admin queue` against the real Redis the API enqueues into (no worker
 * process runs here, so jobs stay where the test puts them).
 */

type Status = {
  ok: boolean;
  counts: Record<string, number>;
  oldestWaiting: { id: string; enqueuedAt: string; ageMs: number } | null;
  failed: { id: string; attemptsMade: number; failedReason: string; failedAt: string | null }[];
};

let app: TestApp;
let env: NodeJS.ProcessEnv;
let queue: RetirementQueue;
const missing = [`cc_${'1'.repeat(64)}`, `cc_${'2'.repeat(64)}`];

beforeAll(async () => {
  app = await startTestApp();
  env = cliEnv(app);
  queue = new RetirementQueue(app.redisUrl, { prefix: app.prefix, attempts: 1 });
});

afterAll(async () => {
  await queue?.close();
  await app?.close();
});

/** Lets a throwaway worker fail the jobs now waiting, for good, as the real one does for a credit that is gone. */
async function failWaitingJobs(expected: number): Promise<void> {
  const connection = new Redis(app.redisUrl, { maxRetriesPerRequest: null });
  let failed = 0;
  const done = new Promise<void>((resolve) => {
    const worker = new Worker(
      RETIREMENT_QUEUE,
      (job) => Promise.reject(new UnrecoverableError(`credit ${String(job.id)} not found`)),
      { connection, prefix: app.prefix },
    );
    worker.on('failed', () => {
      if (++failed === expected) void worker.close().then(() => resolve());
    });
  });
  await done;
  connection.disconnect();
}

describe('admin queue', () => {
  it('shows an empty queue and exits 0', async () => {
    const r = await runCli(['queue', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<Status>()).toMatchObject({ ok: true, oldestWaiting: null, failed: [], counts: { waiting: 0, failed: 0, active: 0 } });
  });

  it('lists failed jobs with their reasons (exit 1) and retries them by ID or all at once', async () => {
    for (const id of missing) await queue.ensureJob(id);
    await failWaitingJobs(missing.length);

    const status = await runCli(['queue', 'status', '--json'], env);
    expect(status.code).toBe(1);
    const s = status.json<Status>();
    expect(s.counts.failed).toBe(2);
    expect(s.failed.map((f) => f.id).sort()).toEqual([...missing].sort());
    expect(s.failed.map((f) => f.failedReason).sort()).toEqual(missing.map((id) => `credit ${id} not found`).sort());
    const human = await runCli(['queue'], env);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/failed\s+2\n/);
    expect(human.stdout).toContain(`credit ${missing[0]} not found`);

    const one = await runCli(['queue', 'retry-failed', missing[0] as string, '--json'], env);
    expect(one.code, one.stderr).toBe(0);
    expect(one.json()).toMatchObject({ retried: 1, notRetried: [] });
    expect(await (await queue.queue.getJob(missing[0] as string))?.getState()).toBe('waiting');
    expect(await (await queue.queue.getJob(missing[1] as string))?.getState()).toBe('failed');

    const unknown = await runCli(['queue', 'retry-failed', missing[0] as string, 'no-such-job', '--json'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.json()).toMatchObject({
      retried: 0,
      notRetried: [
        { id: missing[0], reason: 'job is waiting, not failed' },
        { id: 'no-such-job', reason: 'no such job' },
      ],
    });

    const all = await runCli(['queue', 'retry-failed', '--json'], env);
    expect(all.code).toBe(0);
    expect(all.json()).toMatchObject({ retried: 1 });
    const after = await runCli(['queue', '--json'], env);
    expect(after.code).toBe(0);
    expect(after.json<Status>()).toMatchObject({ counts: { waiting: 2, failed: 0 }, failed: [] });
    await queue.queue.obliterate({ force: true });
  });

  it('names the oldest waiting job and how long it has waited', async () => {
    const { results } = await app.admin.credits.createMany.mutate({ items: [0, 1, 2].map((i) => generatedCredit('QUEUE', i)) });
    const ids = results.map((r) => (r.outcome === 'created' ? r.credit.id : ''));
    for (const id of ids) {
      await app.admin.credits.retire.mutate({ id, beneficiary: 'Harbour Trust' });
      await new Promise((r) => setTimeout(r, 5));
    }
    const r = await runCli(['queue', '--json'], env);
    expect(r.code).toBe(0);
    const s = r.json<Status>();
    expect(s.counts.waiting).toBe(3);
    expect(s.oldestWaiting?.id).toBe(ids[0]);
    expect(s.oldestWaiting?.ageMs).toBeGreaterThanOrEqual(0);
    const human = await runCli(['queue'], env);
    expect(human.stdout).toContain(`oldest waiting job: ${ids[0]}, waiting `);
  });

  it('reconcile gives every pending retirement a live job again', async () => {
    // Redis lost two jobs: PostgreSQL still holds the requests as pending.
    const waiting = await queue.queue.getJobs(['waiting']);
    expect(waiting).toHaveLength(3);
    for (const job of waiting.slice(0, 2)) await job.remove();

    const r = await runCli(['queue', 'reconcile', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ ok: true, pending: 3, enqueued: 2 });
    expect(await queue.queue.getJobCountByTypes('wait')).toBe(3);

    const again = await runCli(['queue', 'reconcile'], env);
    expect(again.stdout).toContain('reconcile: 3 pending retirement(s) in PostgreSQL, 0 job(s) enqueued');
  });

  it('exits 2 at once when Redis cannot be reached', async () => {
    const started = Date.now();
    const r = await runCli(['queue'], { ...env, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot reach Redis (REDIS_URL)');
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
