import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectionOf } from '../helpers/api-errors.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { storedFor, tableCounts } from '../helpers/credit-db-probes.js';
import { uniqueSerial, validCredit } from '../helpers/credit-fixtures.js';
import { openDb } from '../helpers/pg.js';

/*
 * A registry serial belongs to one credit, against the real API and database:
 * other details under an existing registry + serial are refused with CONFLICT
 * naming the existing credit (createMany: outcome conflict), writing nothing.
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

describe('a registry serial belongs to one credit', () => {
  it('different details with the same registry + serial (other case) → CONFLICT naming the existing credit; nothing written', async () => {
    const serial = uniqueSerial('VCS-Conflict');
    const existing = await app.admin.credits.create.mutate(validCredit(serial));
    const before = await tableCounts(db);

    const err = await rejectionOf(
      app.admin.credits.create.mutate({ ...validCredit(serial.toLowerCase()), registry: 'VERRA', projectName: 'Another Project' }),
    );

    expect(err.data?.code).toBe('CONFLICT');
    expect(err.data?.httpStatus).toBe(409);
    expect(err.data?.details).toMatchObject({ existingId: existing.credit.id });
    expect(err.message).toContain(existing.credit.id);
    expect(await tableCounts(db)).toEqual(before);
    expect(await storedFor(db, existing.credit.id)).toEqual({ credits: 1, created: 1, events: 1 });
  });

  it('a different quantity or vintage for the same serial conflicts as well', async () => {
    const serial = uniqueSerial('VCS-Conflict2');
    const existing = await app.admin.credits.create.mutate(validCredit(serial));
    const before = await tableCounts(db);

    for (const change of [{ quantity: '100.5' }, { vintage: 2020 }]) {
      const err = await rejectionOf(app.admin.credits.create.mutate({ ...validCredit(serial), ...change }));
      expect(err.data?.code).toBe('CONFLICT');
      expect(err.data?.details).toMatchObject({ existingId: existing.credit.id });
    }
    expect(await tableCounts(db)).toEqual(before);
  });

  it('createMany answers such an item with outcome conflict and the existing ID, and still creates the valid others', async () => {
    const serial = uniqueSerial('VCS-ManyConflict');
    const existing = await app.admin.credits.create.mutate(validCredit(serial));
    const fresh = validCredit();
    const before = await tableCounts(db);

    const { results } = await app.admin.credits.createMany.mutate({
      items: [{ ...validCredit(serial), projectName: 'Different Project' }, fresh],
    });

    expect(results[0]).toMatchObject({ index: 0, outcome: 'conflict', existingId: existing.credit.id });
    expect(results[1]).toMatchObject({ index: 1, outcome: 'created', credit: { serialNumber: fresh.serialNumber } });
    expect(await tableCounts(db)).toEqual({ credits: before.credits + 1, events: before.events + 1 });
  });
});
