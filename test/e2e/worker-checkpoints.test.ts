import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCheckpoint, verifyConsistencyProof } from '../../client/index.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createCredits, eventCount, openE2eDb, waitFor, workerEnv } from '../helpers/retirement-e2e.js';
import { killAllWorkers, spawnWorker, waitForOutput } from '../helpers/worker-process.js';

/*
 * The worker makes a signed checkpoint of the log every CHECKPOINT_INTERVAL_MS
 * by itself, and a later one when more events have settled.
 */

let app: TestApp;
let db: Pool;

beforeAll(async () => {
  app = await startTestApp();
  db = openE2eDb(app.databaseUrl);
});

afterAll(async () => {
  await killAllWorkers();
  await db?.end();
  await app?.close();
});

describe('checkpoints made by the worker', () => {
  it('covers the settled log every CHECKPOINT_INTERVAL_MS, signed with the key the API publishes', async () => {
    await createCredits(app.admin, 5);
    const worker = spawnWorker(workerEnv(app.env, 'checkpoint-worker', { CHECKPOINT_INTERVAL_MS: '1000' }));
    await waitForOutput(worker, /retirement worker started/);
    const covering = async (n: number) => {
      const { checkpoint } = await app.admin.checkpoints.latest.query();
      return checkpoint && checkpoint.size === n ? checkpoint : undefined;
    };
    const first = await waitFor('a checkpoint of the first events', async () => covering(await eventCount(db)), { timeoutMs: 30_000, intervalMs: 200 });
    await createCredits(app.admin, 3);
    const second = await waitFor('a checkpoint of the new events', async () => covering(await eventCount(db)), { timeoutMs: 30_000, intervalMs: 200 });
    expect(second.size).toBe(first.size + 3);
    const jwks: unknown = await (await fetch(`${app.url}/.well-known/jwks.json`)).json();
    expect(await verifyCheckpoint(second.jws, jwks)).toMatchObject({ ok: true, checkpoint: { size: second.size, root: second.root } });
    const { proof } = await app.admin.checkpoints.proveConsistency.query({ fromSize: first.size, toSize: second.size });
    // The second only adds events to the first.
    expect(await verifyConsistencyProof({ fromSize: first.size, fromRoot: first.root, toSize: second.size, toRoot: second.root, proof })).toBe(true);
    expect(await worker.stop()).toBe(0);
    expect(worker.output()).toMatch(/"msg":"checkpoint made"/);
  });
});
