import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { retireAndWait, type LedgerClient } from '../../client/index.js';
import { withRedis } from '../../server/queue/redis-probe.js';
import { RetirementQueue } from '../../server/queue/retirement-queue.js';
import type { TestApp } from '../helpers/app.js';
import { startAppOn } from '../helpers/private-app.js';
import {
  countOf,
  createCredits,
  exactlyOnceReport,
  openE2eDb,
  pendingCount,
  retiredEventCount,
  sleep,
  statusesOf,
  waitFor,
  workerEnv,
} from '../helpers/retirement-e2e.js';
import { startPrivateStack } from '../helpers/stack.js';
import { killAllWorkers, spawnWorker, waitForOutput, type WorkerProcess } from '../helpers/worker-process.js';

/*
 * PostgreSQL and Redis failing under the retirement flow. These tests stop,
 * flush and reconfigure servers, so they run on a private PostgreSQL and
 * Redis of their own, with the API on top of them.
 */

let stack: Awaited<ReturnType<typeof startPrivateStack>>;
let app: TestApp;
let db: Pool;
let retirer: LedgerClient;

beforeAll(async () => {
  stack = await startPrivateStack();
  app = await startAppOn(
    { databaseUrl: stack.databaseUrl, migrationUrl: stack.migrationUrl, appDatabaseUrl: stack.appDatabaseUrl, redisUrl: stack.redisUrl },
    { RECONCILE_INTERVAL_MS: '1000', WORKER_LOCK_DURATION_MS: '3000' },
  );
  db = openE2eDb(stack.databaseUrl);
  retirer = (await app.as('retirer')).client;
});

afterEach(async () => {
  await killAllWorkers();
});

afterAll(async () => {
  await killAllWorkers();
  await db?.end();
  await app?.close();
  await stack?.close();
});

const started = async (w: WorkerProcess) => {
  await waitForOutput(w, /retirement worker started/);
  return w;
};

const redis = <T>(fn: (r: Redis) => Promise<T>) => withRedis(stack.redisUrl, fn);

async function requestAll(ids: string[], beneficiary = 'Resilient Fund') {
  const answers = await Promise.all(ids.map((id) => retirer.credits.retire.mutate({ id, beneficiary })));
  answers.forEach((a, i) => expect(a).toMatchObject({ creditId: ids[i], jobId: ids[i], status: 'queued', deduplicated: false }));
}

async function expectAllRetiredOnce(ids: string[], timeoutMs = 30_000) {
  await waitFor(`all ${ids.length} credits retired`, async () => (await retiredEventCount(db, ids)) === ids.length || undefined, {
    timeoutMs,
    intervalMs: 200,
  });
  expect(await exactlyOnceReport(db, ids)).toMatchObject({ missing: [], doubled: [] });
  expect(await pendingCount(db)).toBe(0);
  const statuses = await statusesOf(retirer, ids);
  expect([...statuses.values()].map((s) => s.status)).toEqual(ids.map(() => 'retired'));
}

/** Sum of `enqueued` over the reconciler's log lines. */
const reconciledCount = (w: WorkerProcess) =>
  w
    .output()
    .split('\n')
    .filter((line) => line.includes('reconciler re-enqueued pending retirements'))
    .reduce((sum, line) => sum + Number((JSON.parse(line) as { enqueued: number }).enqueued), 0);

describe('Redis eviction policy', () => {
  it('the worker warns clearly at start-up when maxmemory-policy is not noeviction', async () => {
    await redis((r) => r.config('SET', 'maxmemory-policy', 'allkeys-lru'));
    try {
      const w = await started(spawnWorker(workerEnv(app.env, 'e2e-policy')));
      expect(w.output()).toMatch(/WARNING: Redis maxmemory-policy is 'allkeys-lru'; BullMQ needs 'noeviction'/);
      expect(w.output()).toMatch(/CONFIG SET maxmemory-policy noeviction/);
      await w.stop('SIGKILL');
    } finally {
      await redis((r) => r.config('SET', 'maxmemory-policy', 'noeviction'));
    }
    // And stays quiet when it is right.
    const quiet = await started(spawnWorker(workerEnv(app.env, 'e2e-policy-ok')));
    expect(quiet.output()).not.toMatch(/maxmemory-policy/);
  });
});

describe('FLUSHALL after requests were accepted, before any worker ran', () => {
  it('the reconciler re-enqueues them and each completes exactly once', async () => {
    const ids = await createCredits(app.admin, 20, 'flush');
    await requestAll(ids);
    const queue = new RetirementQueue(stack.redisUrl, { prefix: app.prefix, attempts: 1 });
    try {
      expect((await Promise.all(ids.map((id) => queue.snapshot(id)))).every((s) => s?.state === 'queued')).toBe(true);
      expect(await redis((r) => r.flushall())).toBe('OK');
      expect(await Promise.all(ids.map((id) => queue.snapshot(id)))).toEqual(ids.map(() => null));
    } finally {
      await queue.close();
    }
    expect(await countOf(db, `select count(*) as n from credits where retirement_state = 'pending' and id = any($1)`, [ids])).toBe(20);

    const w = await started(spawnWorker(workerEnv(app.env, 'e2e-after-flush')));
    await expectAllRetiredOnce(ids);
    expect(reconciledCount(w)).toBe(20);
  });
});

describe('Redis down while requests arrive', () => {
  it('requests are answered queued and kept in PostgreSQL; once Redis is back a worker completes them', async () => {
    const w = await started(spawnWorker(workerEnv(app.env, 'e2e-redis-down')));
    const ids = await createCredits(app.admin, 10, 'redis-down');
    const [waitId] = await createCredits(app.admin, 1, 'redis-down-wait');
    if (!waitId) throw new Error('no credit');

    await stack.redis.stop();
    await requestAll(ids);
    expect(await countOf(db, `select count(*) as n from credits where retirement_state = 'pending' and id = any($1)`, [ids])).toBe(10);
    const statuses = await statusesOf(retirer, ids);
    expect([...statuses.values()].map((s) => s.status)).toEqual(ids.map(() => 'queued'));
    // retireAndWait gives up waiting without throwing, and says so.
    const waited = await retireAndWait(retirer, waitId, { beneficiary: 'Resilient Fund' }, { timeoutMs: 1500, initialDelayMs: 50, maxDelayMs: 400 });
    expect(waited).toMatchObject({ status: 'queued', timedOut: true, request: { creditId: waitId, deduplicated: false } });
    expect(await retiredEventCount(db, [...ids, waitId])).toBe(0);

    await stack.redis.start();
    await expectAllRetiredOnce([...ids, waitId], 45_000);
    expect(reconciledCount(w)).toBe(11);
    expect(w.proc.exitCode).toBeNull();
  });
});

describe('PostgreSQL down for a few seconds while jobs run', () => {
  it('jobs retry and complete when it is back: nothing lost, nothing doubled', async () => {
    const ids = await createCredits(app.admin, 40, 'pg-down');
    await requestAll(ids);
    const queue = new RetirementQueue(stack.redisUrl, { prefix: app.prefix, attempts: 1 });
    try {
      // Slow jobs (each holds its row lock 150 ms) so some are surely mid-transaction when PostgreSQL goes.
      const w = await started(spawnWorker(workerEnv(app.env, 'e2e-pg-down', { WORKER_CONCURRENCY: '4', WORKER_TEST_HOLD_LOCK_MS: '150' })));
      await waitFor('a few credits retired', async () => (await retiredEventCount(db, ids)) >= 4 || undefined);
      await waitFor('jobs in flight', async () => (await queue.queue.getActiveCount()) > 0 || undefined, { intervalMs: 10 });

      await stack.pg.stop();
      await waitFor('attempts to fail while PostgreSQL is down', () => /retirement attempt failed/.test(w.output()) || undefined, { timeoutMs: 10_000 });
      await sleep(3000); // keep it down a few seconds: the scenario, not an assertion
      await stack.pg.start();

      await expectAllRetiredOnce(ids, 60_000);
      // Some retirements needed more than one attempt: the outage really hit jobs.
      expect(
        await countOf(db, `select count(*) as n from events where type = 'retired' and (payload->>'attempts')::int > 1 and credit_id = any($1)`, [ids]),
      ).toBeGreaterThan(0);
      expect(await countOf(db, `select count(*) as n from events where type = 'retirement_failed' and credit_id = any($1)`, [ids])).toBe(0);
      expect(w.proc.exitCode).toBeNull();
    } finally {
      await queue.close();
    }
  });
});
