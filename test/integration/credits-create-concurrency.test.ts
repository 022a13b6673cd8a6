import { TRPCClientError } from '@trpc/client';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creditId } from '../../server/credits/canonical-id.js';
import type { ApiError } from '../helpers/api-errors.js';
import { ADMIN_KEY, serveTestApp, startTestApp, type TestApp } from '../helpers/app.js';
import { holdCreditRows, storedFor, tableCounts, waitForLockWaits } from '../helpers/credit-db-probes.js';
import { uniqueSerial, validCredit } from '../helpers/credit-fixtures.js';
import { openDb } from '../helpers/pg.js';

/*
 * Concurrent credits.create and credits.createMany calls against the real API
 * and database: racing identical creates, racing claims on one serial, and two
 * importers whose batches overlap (lined up with rows held in an open
 * transaction) must each get an answer, never an internal error, and leave one
 * credit per serial.
 */

let app: TestApp;
let db: Pool;

beforeAll(async () => {
  app = await startTestApp();
  db = openDb(app.databaseUrl, 4);
});

afterAll(async () => {
  await db?.end();
  await app?.close();
});

describe('concurrent creates', () => {
  /** Separate clients, so no two calls share a batched HTTP request. */
  const clients = (n: number) => Array.from({ length: n }, () => app.client(ADMIN_KEY));

  it('20 identical creates at once: exactly one created:true, one row, one created event', async () => {
    const input = validCredit(uniqueSerial('VCS-Race'));
    const before = await tableCounts(db);

    const results = await Promise.all(clients(20).map((c) => c.credits.create.mutate(input)));

    expect(results.filter((r) => r.created)).toHaveLength(1);
    const ids = new Set(results.map((r) => r.credit.id));
    expect(ids.size).toBe(1);
    const [id] = ids;
    if (!id) throw new Error('no ID');
    for (const r of results) expect(r.credit).toEqual(results[0]?.credit);
    expect(await storedFor(db, id)).toEqual({ credits: 1, created: 1, events: 1 });
    expect(await tableCounts(db)).toEqual({ credits: before.credits + 1, events: before.events + 1 });
  });

  it('20 different credits claiming one serial at once: one is created, the other 19 get CONFLICT naming it', async () => {
    const serial = uniqueSerial('VCS-SerialRace');
    const before = await tableCounts(db);

    const settled = await Promise.allSettled(
      clients(20).map((c, i) => c.credits.create.mutate({ ...validCredit(serial), projectName: `Contender ${i}` })),
    );

    const created = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    expect(created).toHaveLength(1);
    expect(created[0]?.created).toBe(true);
    const winner = created[0]?.credit.id;
    const refused = settled.flatMap((s): unknown[] => (s.status === 'rejected' ? [s.reason] : []));
    expect(refused).toHaveLength(19);
    for (const reason of refused) {
      expect(reason).toBeInstanceOf(TRPCClientError);
      const err = reason as ApiError;
      expect(err.data?.code).toBe('CONFLICT');
      expect(err.data?.details).toEqual({ existingId: winner });
    }
    expect(await tableCounts(db)).toEqual({ credits: before.credits + 1, events: before.events + 1 });
  });

  it('two importers sending the same batch at the same moment, in opposite orders, both get an answer for every item', async () => {
    // Multi-row inserts of the same rows in opposite orders can deadlock in PostgreSQL. An importer
    // retrying a file while another imports it must still get answers (created or existing), never a 500.
    for (let round = 0; round < 2; round++) {
      const items = Array.from({ length: 300 }, (_, i) => validCredit(uniqueSerial(`VCS-Import-${round}-${i}`)));
      const [a, b] = clients(2);
      if (!a || !b) throw new Error('no clients');
      // Line the two requests up: each waits on its first row, then both insert at the same moment.
      const gate = await holdCreditRows(db, [items[0], items.at(-1)].flatMap((i) => (i ? [i] : [])));
      let settled;
      try {
        const running = Promise.allSettled([a.credits.createMany.mutate({ items }), b.credits.createMany.mutate({ items: [...items].reverse() })]);
        // Each waits on a held row, or on the other import that already waits on one.
        await waitForLockWaits(db, 'both imports to wait', (waits) => waits.length >= 2 && waits.some((w) => w.blockers.includes(gate.pid)));
        await gate.release();
        settled = await running;
      } finally {
        await gate.release();
      }

      const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason instanceof Error ? s.reason.message : String(s.reason)] : []));
      expect(failures, `round ${round}`).toEqual([]);
      const outcomes = settled.flatMap((s) => (s.status === 'fulfilled' ? s.value.results.map((r) => r.outcome) : []));
      expect(outcomes.filter((o) => o === 'created')).toHaveLength(items.length);
      expect(outcomes.filter((o) => o === 'existing')).toHaveLength(items.length);
    }
  });

  it('two importers claiming the same serials with different details at the same moment both get an answer for every item', async () => {
    // Batch A holds credits X (serial 1) and Y (serial 2); batch B holds other credits X' (serial 1) and Y' (serial 2).
    // Whatever order each batch inserts in, each serial must end up with one credit and the other item a conflict
    // naming it, never an internal error (e.g. a deadlock between the two transactions).
    const [s1, s2] = [uniqueSerial('VCS-Claim-1'), uniqueSerial('VCS-Claim-2')];
    const fields = (serialNumber: string, projectName: string) => ({ ...validCredit(serialNumber), projectName });
    // Pick project names so that by credit ID, A would insert serial 1 first and B serial 2 first.
    const names = Array.from({ length: 64 }, (_, i) => `Claimant ${i}`);
    const idOf = (serial: string, name: string) => creditId({ ...fields(serial, name), quantity: '100' });
    const a = names.find((n) => idOf(s1, n) < idOf(s2, n));
    const b = names.find((n) => n !== a && idOf(s2, n) < idOf(s1, n));
    if (!a || !b) throw new Error('no suitable project names');
    const batchA = [fields(s1, a), fields(s2, a)];
    const batchB = [fields(s1, b), fields(s2, b)];
    const [ca, cb] = clients(2);
    if (!ca || !cb) throw new Error('no clients');
    const before = await tableCounts(db);

    // Interleave them: A inserts X, then waits (on the test) before Y; B inserts Y', then reaches X'.
    const holdY = await holdCreditRows(db, [{ id: idOf(s2, a), registry: 'Elsewhere', serialNumber: uniqueSerial('held') }]);
    const holdY2 = await holdCreditRows(db, [{ id: idOf(s2, b), registry: 'Elsewhere', serialNumber: uniqueSerial('held') }]);
    let settled;
    try {
      const runA = ca.credits.createMany.mutate({ items: batchA });
      runA.catch(() => undefined); // judged below, after both have answered
      await waitForLockWaits(db, 'A to hold X and wait before Y', (waits) => waits.some((w) => w.blockers.includes(holdY.pid)));
      const runB = cb.credits.createMany.mutate({ items: batchB });
      runB.catch(() => undefined);
      await waitForLockWaits(db, 'B to wait as well', (waits) => waits.length >= 2);
      await holdY2.release();
      // B has inserted Y' and reached X', which A holds: B now waits for A.
      const held = [holdY.pid, holdY2.pid];
      await waitForLockWaits(db, 'B to wait for A', (waits) => waits.some((w) => w.blockers.length > 0 && !w.blockers.some((p) => held.includes(p))));
      await holdY.release();
      settled = await Promise.allSettled([runA, runB]);
    } finally {
      await holdY.release();
      await holdY2.release();
    }

    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason instanceof Error ? s.reason.message : String(s.reason)] : []));
    expect(failures).toEqual([]);
    const [resultsA, resultsB] = settled.map((s) => (s.status === 'fulfilled' ? s.value.results : []));
    [s1, s2].forEach((serial, i) => {
      const pair = [resultsA?.[i], resultsB?.[i]];
      const created = pair.flatMap((r) => (r?.outcome === 'created' ? [r.credit] : []));
      expect(created, serial).toHaveLength(1);
      expect(created[0]?.serialNumber).toBe(serial);
      expect(pair.find((r) => r?.outcome === 'conflict'), serial).toMatchObject({ existingId: created[0]?.id });
    });
    expect(await tableCounts(db)).toEqual({ credits: before.credits + 2, events: before.events + 2 });
  });
});

describe('a create that waits too long on an uncommitted twin', () => {
  it('answers TOO_MANY_REQUESTS (busy, retry) after DB_LOCK_TIMEOUT_MS rather than an internal error, and writes nothing', async () => {
    // A second API over the same database, with a short lock timeout.
    const quick = await serveTestApp(
      { databaseUrl: app.databaseUrl, appDatabaseUrl: app.env.DATABASE_URL ?? '', redisUrl: app.redisUrl, prefix: app.prefix },
      { DB_LOCK_TIMEOUT_MS: '300', DB_STATEMENT_TIMEOUT_MS: '10000' },
    );
    try {
      const input = validCredit(uniqueSerial('VCS-Held'));
      const before = await tableCounts(db);
      const gate = await holdCreditRows(db, [input]);
      let failure: unknown;
      try {
        failure = await quick.admin.credits.create.mutate(input).then(
          () => null,
          (err: unknown) => err,
        );
      } finally {
        await gate.release();
      }
      expect(await tableCounts(db)).toEqual(before);
      expect(failure).toBeInstanceOf(TRPCClientError);
      const data = (failure as ApiError).data;
      expect(data?.code).toBe('TOO_MANY_REQUESTS');
      expect((failure as Error).message).toBe('the ledger is busy with the same records; retry shortly');
      // Once the twin is gone the same create goes through.
      expect((await quick.admin.credits.create.mutate(input)).created).toBe(true);
    } finally {
      await quick.close();
    }
  });
});
