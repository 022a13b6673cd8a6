import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCertificate } from '../../client/index.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createCredits, exactlyOnceReport, openE2eDb, pendingCount, retiredEventCount, waitFor, workerEnv } from '../helpers/retirement-e2e.js';
import { killAllWorkers, spawnWorker, waitForOutput } from '../helpers/worker-process.js';

/*
 * A worker applies retirements that arrive together in one transaction
 * (WORKER_BATCH_SIZE, WORKER_BATCH_LINGER_MS), and each is still recorded
 * exactly once. The writing transaction's ID on each `retired` event tells
 * which retirements shared a commit.
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

/** Requests the retirement of `count` new credits while no worker runs, so their jobs wait together in the queue. */
async function waitingRetirements(count: number): Promise<string[]> {
  const ids = await createCredits(app.admin, count);
  for (const id of ids) await app.admin.credits.retire.mutate({ id, beneficiary: 'Batch Buyer' });
  return ids;
}

/** How many `retired` events each writing transaction holds, among these credits. */
async function retirementsPerTransaction(ids: string[]): Promise<number[]> {
  const { rows } = await db.query<{ n: string }>(
    `select count(*) as n from events where type = 'retired' and credit_id = any($1) group by tx_id order by count(*) desc`,
    [ids],
  );
  return rows.map((r) => Number(r.n));
}

/**
 * That every credit has a certificate, written by the transaction that wrote its `retired` event (the row's xmin is
 * that transaction's ID), certifying that event's hash, and verifying offline with the JWK Set the API publishes.
 */
async function expectCertificates(ids: string[]): Promise<void> {
  const jwks: unknown = await (await fetch(`${app.url}/.well-known/jwks.json`)).json();
  const { rows } = await db.query<{ credit_id: string; same_tx: boolean; hash: string }>(
    `select c.credit_id, c.xmin::text = (e.tx_id::text::numeric % 4294967296)::text as same_tx, e.hash
     from retirement_certificates c join events e on e.position = c.retired_position and e.type = 'retired'
     where c.credit_id = any($1)`,
    [ids],
  );
  expect(rows.length).toBe(ids.length);
  expect(rows.filter((r) => !r.same_tx)).toEqual([]);
  const hashes = new Map(rows.map((r) => [r.credit_id, r.hash]));
  for (const id of ids) {
    const { jws } = await app.admin.credits.certificate.query({ id });
    const checked = await verifyCertificate(jws, jwks);
    expect(checked, id).toMatchObject({ ok: true, certificate: { creditId: id, beneficiary: 'Batch Buyer', retiredEvent: { hash: hashes.get(id) } } });
  }
}

async function runWorkerUntilRetired(ids: string[], settings: Record<string, string>): Promise<void> {
  const worker = spawnWorker(workerEnv(app.env, 'batching-worker', settings));
  await waitForOutput(worker, /retirement worker started/);
  await waitFor(`${ids.length} credits retired`, async () => (await retiredEventCount(db, ids)) === ids.length || undefined, { timeoutMs: 60_000, intervalMs: 100 });
  expect(await worker.stop()).toBe(0);
}

describe('retirements applied together', () => {
  it('shares transactions between retirements that arrive together, never more than WORKER_BATCH_SIZE, each exactly once', async () => {
    const ids = await waitingRetirements(40);
    await runWorkerUntilRetired(ids, { WORKER_CONCURRENCY: '8', WORKER_BATCH_SIZE: '5', WORKER_BATCH_LINGER_MS: '50' });
    expect(await exactlyOnceReport(db, ids)).toMatchObject({ missing: [], doubled: [] });
    expect(await pendingCount(db)).toBe(0);
    const perTransaction = await retirementsPerTransaction(ids);
    expect(perTransaction.reduce((a, b) => a + b, 0)).toBe(40);
    // Eight jobs in flight and a 50 ms wait: transactions carried several retirements, none more than five.
    expect(perTransaction[0]).toBeGreaterThan(1);
    expect(perTransaction[0]).toBeLessThanOrEqual(5);
    expect(perTransaction.length).toBeLessThan(40);
    // Batched or not, each retirement's certificate was signed in its transaction.
    await expectCertificates(ids);
  });

  it('with WORKER_BATCH_SIZE=1 each retirement commits alone', async () => {
    const ids = await waitingRetirements(12);
    await runWorkerUntilRetired(ids, { WORKER_CONCURRENCY: '8', WORKER_BATCH_SIZE: '1' });
    expect(await exactlyOnceReport(db, ids)).toMatchObject({ missing: [], doubled: [] });
    expect(await retirementsPerTransaction(ids)).toEqual(Array(12).fill(1));
    await expectCertificates(ids);
  });
  it('retires parts of several blocks together: each part its own units and the registry serial, each block what is left', async () => {
    // Six Gold Standard blocks of 100 units; three parts requested off each while no worker runs.
    const blocks: string[] = [];
    for (let b = 0; b < 6; b++) {
      const { credit } = await app.admin.credits.create.mutate({
        projectName: 'Batched Parts',
        registry: 'Gold Standard',
        vintage: 2025,
        quantity: '100',
        serialNumber: `GS1-1-TR-GS7652-12-2025-${500 + b}-1-100`,
      });
      blocks.push(credit.id);
    }
    const quantities = ['10', '25', '5'];
    const parts: string[] = [];
    for (const [b, id] of blocks.entries()) {
      for (const [i, quantity] of quantities.entries()) {
        const answer = await app.admin.credits.retire.mutate({ id, beneficiary: 'Batch Buyer', quantity, requestId: `block-${b}-part-${i}` });
        expect(answer.partOf).toBe(id);
        parts.push(answer.creditId);
      }
    }
    await runWorkerUntilRetired(parts, { WORKER_CONCURRENCY: '8', WORKER_BATCH_SIZE: '6', WORKER_BATCH_LINGER_MS: '50' });
    expect(await exactlyOnceReport(db, parts)).toMatchObject({ missing: [], doubled: [] });
    const perTransaction = await retirementsPerTransaction(parts);
    expect(perTransaction.reduce((a, b) => a + b, 0)).toBe(18);
    expect(perTransaction[0]).toBeGreaterThan(1);
    expect(perTransaction[0]).toBeLessThanOrEqual(6);

    // Each part: retired, with the units carved for it and the registry's serial of them.
    for (const [b, id] of blocks.entries()) {
      const { credit, lineage } = await app.admin.credits.get.query({ id });
      expect([credit.status, credit.quantity, credit.unitRange, credit.serialNumber]).toEqual(['active', '60', { first: 41, last: 100 }, `GS1-1-TR-GS7652-12-2025-${500 + b}-41-100`]);
      expect(lineage.parts.map((p) => [p.status, p.quantity, p.unitRange, p.serialNumber])).toEqual([
        ['retired', '10', { first: 1, last: 10 }, `GS1-1-TR-GS7652-12-2025-${500 + b}-1-10`],
        ['retired', '25', { first: 11, last: 35 }, `GS1-1-TR-GS7652-12-2025-${500 + b}-11-35`],
        ['retired', '5', { first: 36, last: 40 }, `GS1-1-TR-GS7652-12-2025-${500 + b}-36-40`],
      ]);
    }
    expect(await app.admin.supply.totals.query({ projectName: 'Batched Parts' })).toMatchObject({
      issued: '600',
      active: '360',
      retired: '240',
      pendingRetirement: '0',
      cancelled: '0',
    });
  });
});
