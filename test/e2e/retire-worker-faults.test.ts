import type { Pool, PoolClient } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { retireAndWait, type LedgerClient } from '../../client/index.js';
import { RetirementQueue } from '../../server/queue/retirement-queue.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import {
  createCredits,
  exactlyOnceReport,
  openE2eDb,
  pendingCount,
  retiredEventCount,
  statusesOf,
  waitFor,
  workerEnv,
} from '../helpers/retirement-e2e.js';
import { killAllWorkers, spawnWorker, waitForOutput, type WorkerProcess } from '../helpers/worker-process.js';

/*
 * Worker processes that die, are stopped, or cannot get a credit's row lock.
 * Each test gets its own database and queue prefix, and its own workers.
 */

type Ctx = { app: TestApp; db: Pool; queue: RetirementQueue; retirer: LedgerClient };
let ctx: Ctx | null = null;
let holder: PoolClient | null = null;

async function setUp(env: Record<string, string>): Promise<Ctx> {
  const app = await startTestApp(env);
  const db = openE2eDb(app.databaseUrl);
  const queue = new RetirementQueue(app.redisUrl, { prefix: app.prefix, attempts: 1 });
  const retirer = (await app.as('retirer')).client;
  ctx = { app, db, queue, retirer };
  return ctx;
}

afterEach(async () => {
  await killAllWorkers();
  if (holder) {
    await holder.query('rollback').catch(() => undefined);
    holder.release();
    holder = null;
  }
  if (ctx) {
    await ctx.queue.close();
    await ctx.db.end();
    await ctx.app.close();
    ctx = null;
  }
});

const started = async (w: WorkerProcess) => {
  await waitForOutput(w, /retirement worker started/);
  return w;
};

async function requestAll(retirer: LedgerClient, ids: string[], beneficiary = 'Fault Tolerant Fund') {
  const answers = await Promise.all(ids.map((id) => retirer.credits.retire.mutate({ id, beneficiary })));
  answers.forEach((a, i) => expect(a).toMatchObject({ creditId: ids[i], jobId: ids[i], deduplicated: false }));
}

async function expectAllRetiredOnce({ db, retirer }: Ctx, ids: string[], timeoutMs = 30_000) {
  await waitFor(`all ${ids.length} credits retired`, async () => (await retiredEventCount(db, ids)) === ids.length || undefined, {
    timeoutMs,
    intervalMs: 200,
  });
  expect(await exactlyOnceReport(db, ids)).toEqual({ missing: [], doubled: [], unexpected: [] });
  expect(await pendingCount(db)).toBe(0);
  const statuses = await statusesOf(retirer, ids);
  expect([...statuses.values()].map((s) => s.status)).toEqual(ids.map(() => 'retired'));
}

/** The exit code (or signal) of a worker, failing if it has not exited within `ms`. */
function exitWithin(w: WorkerProcess, ms: number): Promise<number | string> {
  return Promise.race([
    w.exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`worker did not exit within ${ms} ms:\n${w.output()}`)), ms).unref()),
  ]);
}

describe('a worker killed with SIGKILL while it holds a row lock', () => {
  it('another worker takes the job over; every request completes exactly once', async () => {
    const c = await setUp({ WORKER_LOCK_DURATION_MS: '3000', RECONCILE_INTERVAL_MS: '1000' });
    const ids = await createCredits(c.app.admin, 6);
    await requestAll(c.retirer, ids);

    // Worker A pauses (test-only knob) right after taking each row lock, one job at a time.
    const a = await started(spawnWorker(workerEnv(c.app.env, 'e2e-holder', { WORKER_CONCURRENCY: '1', WORKER_TEST_HOLD_LOCK_MS: '600000' })));
    const held = await waitFor('worker A to hold a credit row lock mid-job', async () => {
      const { rows } = await c.db.query<{ pid: number }>(
        `select pid from pg_stat_activity
          where datname = current_database() and application_name = 'e2e-holder'
            and state = 'idle in transaction' and query ilike '%for update%'`,
      );
      const active = await c.queue.queue.getActive();
      const pid = rows[0]?.pid;
      const creditId = active[0]?.id;
      return rows.length === 1 && active.length === 1 && pid !== undefined && creditId !== undefined ? { pid, creditId } : undefined;
    });
    // PostgreSQL confirms it: A's backend holds the row-level lock mode on credits, and the row cannot be locked by anyone else.
    const locks = await c.db.query(`select 1 from pg_locks where pid = $1 and relation = 'credits'::regclass and mode = 'RowShareLock' and granted`, [held.pid]);
    expect(locks.rows).toHaveLength(1);
    const probe = await c.db.connect();
    try {
      await probe.query('begin');
      await expect(probe.query('select id from credits where id = $1 for update nowait', [held.creditId])).rejects.toMatchObject({ code: '55P03' });
    } finally {
      await probe.query('rollback');
      probe.release();
    }

    const b = await started(spawnWorker(workerEnv(c.app.env, 'e2e-taker', { WORKER_CONCURRENCY: '2' })));
    const others = ids.filter((id) => id !== held.creditId);
    await waitFor('worker B to retire the other credits', async () => (await retiredEventCount(c.db, others)) === others.length || undefined);
    expect(await retiredEventCount(c.db, [held.creditId])).toBe(0);

    expect(await a.stop('SIGKILL')).toBe('SIGKILL');
    // PostgreSQL notices the dead client and rolls its transaction back, releasing the lock…
    await waitFor('the killed worker’s backend to go away', async () => {
      const { rows } = await c.db.query(`select 1 from pg_stat_activity where pid = $1`, [held.pid]);
      return rows.length === 0 || undefined;
    });
    // …and B picks the stalled job up once A's job lock expires.
    await expectAllRetiredOnce(c, ids);
    expect(b.output()).toContain(held.creditId);
    expect(b.proc.exitCode).toBeNull();
  });
});

describe('SIGTERM to a worker during a batch', () => {
  it('finishes the jobs in flight, exits 0, loses nothing; a second worker finishes the rest', async () => {
    const c = await setUp({ RECONCILE_INTERVAL_MS: '1000' });
    const ids = await createCredits(c.app.admin, 80);
    await requestAll(c.retirer, ids);

    // Slow jobs (each holds its row lock 200 ms) so the batch is surely mid-way when the signal comes.
    const a = await started(spawnWorker(workerEnv(c.app.env, 'e2e-term', { WORKER_CONCURRENCY: '2', WORKER_TEST_HOLD_LOCK_MS: '200' })));
    await waitFor('a few credits retired', async () => (await retiredEventCount(c.db, ids)) >= 5 || undefined);
    await waitFor('jobs in flight', async () => (await c.queue.queue.getActiveCount()) > 0 || undefined, { intervalMs: 10 });
    a.proc.kill('SIGTERM');
    expect(await exitWithin(a, 20_000)).toBe(0);
    expect(a.output()).toMatch(/finishing jobs in flight/);

    const retiredAtExit = await retiredEventCount(c.db, ids);
    expect(retiredAtExit).toBeLessThan(ids.length);
    // Nothing was abandoned mid-job, and every job it completed is a recorded retirement.
    expect(await c.queue.queue.getActiveCount()).toBe(0);
    expect(await c.queue.queue.getCompletedCount()).toBe(retiredAtExit);
    expect(await exactlyOnceReport(c.db, ids)).toMatchObject({ doubled: [], unexpected: [] });

    await started(spawnWorker(workerEnv(c.app.env, 'e2e-rest', { WORKER_CONCURRENCY: '4' })));
    await expectAllRetiredOnce(c, ids);
    // PostgreSQL commits before BullMQ records the completion, so wait for the queue to catch up.
    await waitFor('every job marked completed', async () => (await c.queue.queue.getCompletedCount()) === ids.length || undefined);
  });
});

describe('after a failed retirement', () => {
  it('a new request is accepted, replaces the failed job, and ends retired', async () => {
    const c = await setUp({
      RETIREMENT_MAX_ATTEMPTS: '2',
      DB_LOCK_TIMEOUT_MS: '300',
      RECONCILE_INTERVAL_MS: '1000',
      WORKER_LOCK_DURATION_MS: '3000',
    });
    const [id] = await createCredits(c.app.admin, 1);
    if (!id) throw new Error('no credit');
    // The caller waits with retireAndWait; no worker runs yet, so the request stays pending.
    const waiting = retireAndWait(c.retirer, id, { beneficiary: 'Patient Buyer' }, { timeoutMs: 40_000, initialDelayMs: 50, maxDelayMs: 250 });
    waiting.catch(() => undefined); // awaited below; this only keeps an early rejection from going unhandled
    await waitFor('the request to be recorded', async () => (await pendingCount(c.db)) === 1 || undefined);

    // A transaction of the test holds the credit's row lock, so every attempt times out waiting for it.
    const lock = await c.db.connect();
    holder = lock;
    await lock.query('begin');
    await lock.query('select id from credits where id = $1 for update', [id]);

    const w = await started(spawnWorker(workerEnv(c.app.env, 'e2e-failing', { WORKER_CONCURRENCY: '1' })));
    // Both attempts time out on the lock; then the worker gives up and waits (longer) for the lock to record that.
    await waitForOutput(w, /out of attempts; recording the failure/, 20_000);
    expect(w.output().match(/retirement attempt failed/g)).toHaveLength(1);
    // The first attempt's failure is shown while the worker goes on, in our words: no SQL, no driver text.
    const during = await c.retirer.credits.retirementStatus.query({ id });
    expect(during).toMatchObject({ status: 'processing', failedReason: expect.stringMatching(/^lock_timeout \(/) as unknown });
    expect(during.failedReason).not.toMatch(/select|"credits"|for update|canceling statement|c0/i);
    const holderPid = (await lock.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
    await waitFor('the worker to be blocked on the row lock the test holds', async () => {
      const { rows } = await c.db.query(
        `select 1 from pg_stat_activity where application_name = 'e2e-failing' and wait_event_type = 'Lock' and $1 = any(pg_blocking_pids(pid))`,
        [holderPid],
      );
      return rows.length === 1 || undefined;
    });
    holder = null;
    await lock.query('rollback');
    lock.release();

    // The waiting caller gets the final answer: failed, with the reason.
    const failed = await waiting;
    expect(failed).toMatchObject({ status: 'failed', attempts: 2, timedOut: false, request: { creditId: id, jobId: id, deduplicated: false } });
    expect(failed.failedReason).toMatch(/^gave up after 2 attempts: .*lock timeout/);
    expect(failed.failedReason).toMatch(/^gave up after 2 attempts: lock_timeout \(/);
    expect(await c.retirer.credits.retirementStatus.query({ id })).toEqual({ status: 'failed', attempts: 2, failedReason: failed.failedReason });
    expect(await pendingCount(c.db)).toBe(0);
    await waitFor('the job to be marked failed', async () => (await c.queue.snapshot(id))?.state === 'failed' || undefined);

    const oldJob = await c.queue.snapshot(id);
    expect(oldJob).toMatchObject({ state: 'failed', attemptsMade: 2 });
    const again = await c.retirer.credits.retire.mutate({ id, beneficiary: 'Patient Buyer' });
    expect(again).toMatchObject({ creditId: id, jobId: id, deduplicated: false });
    await waitFor('the second request to be retired', async () => {
      const s = await c.retirer.credits.retirementStatus.query({ id });
      return s.status === 'retired' ? s : undefined;
    });
    // The failed job was replaced by a fresh one, which completed on its first attempt.
    // PostgreSQL commits before BullMQ records the completion, so wait for the queue to catch up.
    const finished = await waitFor('the fresh job to be marked completed', async () => {
      const snap = await c.queue.snapshot(id);
      return snap?.state === 'completed' ? snap : undefined;
    });
    expect(finished).toMatchObject({ state: 'completed', attemptsMade: 1 });
    const { rows } = await c.db.query<{ type: string }>(`select type from events where credit_id = $1 order by version`, [id]);
    expect(rows.map((r) => r.type)).toEqual(['created', 'retirement_requested', 'retirement_failed', 'retirement_requested', 'retired']);
    expect(await exactlyOnceReport(c.db, [id])).toEqual({ missing: [], doubled: [], unexpected: [] });
    expect(w.proc.exitCode).toBeNull();
  });
});

describe('a job that kills every worker that takes it', () => {
  it('fails for good after RETIREMENT_MAX_STALLS stalls, with a reason, and is not retried again', async () => {
    const c = await setUp({ RETIREMENT_MAX_STALLS: '1', WORKER_LOCK_DURATION_MS: '1000', RECONCILE_INTERVAL_MS: '500' });
    const [id] = await createCredits(c.app.admin, 1);
    if (!id) throw new Error('no credit');
    await requestAll(c.retirer, [id]);

    /** A worker that takes the job and dies holding it, as a crashing job would make it. */
    const takeAndDie = async (name: string) => {
      const w = await started(spawnWorker(workerEnv(c.app.env, name, { WORKER_CONCURRENCY: '1', WORKER_TEST_HOLD_LOCK_MS: '600000' })));
      await waitFor(`${name} to hold the job mid-attempt`, async () => {
        const { rows } = await c.db.query(
          `select 1 from pg_stat_activity where application_name = $1 and state = 'idle in transaction' and query ilike '%for update%'`,
          [name],
        );
        return rows.length === 1 || undefined;
      });
      expect(await w.stop('SIGKILL')).toBe('SIGKILL');
    };
    await takeAndDie('e2e-poison-1');
    // The next worker finds the job stalled once (allowed), takes it, and dies too.
    await takeAndDie('e2e-poison-2');

    // A healthy worker finds the second stall: past the limit, the job fails and the request ends as failed.
    const survivor = await started(spawnWorker(workerEnv(c.app.env, 'e2e-survivor', { WORKER_CONCURRENCY: '1' })));
    const status = await waitFor('the request to end as failed', async () => {
      const s = await c.retirer.credits.retirementStatus.query({ id });
      return s.status === 'failed' ? s : undefined;
    });
    expect(status.failedReason).toMatch(/^gave up: worker_stalled \(/);
    expect(await pendingCount(c.db)).toBe(0);

    // Several reconcile rounds later it is still failed: no new job, no retirement.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await c.queue.snapshot(id))?.state).toBe('failed');
    const { rows } = await c.db.query<{ type: string }>(`select type from events where credit_id = $1 order by version`, [id]);
    expect(rows.map((r) => r.type)).toEqual(['created', 'retirement_requested', 'retirement_failed']);
    expect(survivor.output()).toMatch(/its job stalled out/);
  });
});
