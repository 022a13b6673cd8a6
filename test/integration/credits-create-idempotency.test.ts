import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { storedFor, tableCounts } from '../helpers/credit-db-probes.js';
import { uniqueSerial, validCredit } from '../helpers/credit-fixtures.js';
import { openDb } from '../helpers/pg.js';

/*
 * credits.create and credits.createMany are idempotent, against the real API
 * and database: repeating a credit (same input, an equivalent spelling, another
 * key, a later createMany, or twice in one batch) answers the existing credit
 * as first spelled and stores one row and one created event.
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

describe('credits.create is idempotent', () => {
  it('the same input twice: the second answers created:false with the same ID, and one row and one created event exist', async () => {
    const input = validCredit();
    const first = await app.admin.credits.create.mutate(input);
    const second = await app.admin.credits.create.mutate(input);

    expect(first.created).toBe(true);
    expect(first.credit.id).toMatch(/^cc_[0-9a-f]{64}$/);
    expect(second.created).toBe(false);
    expect(second.credit).toEqual(first.credit);
    expect(await storedFor(db, first.credit.id)).toEqual({ credits: 1, created: 1, events: 1 });
  });

  it('an equivalent spelling (case, whitespace, 100 vs "100.000") is the same credit, shown as first spelled', async () => {
    const serial = uniqueSerial('VCS-Spelling');
    const firstInput = { projectName: 'Kasigau Corridor REDD+', registry: 'Verra', vintage: 2021, quantity: 100, serialNumber: serial };
    const respelled = {
      projectName: '  kasigau   CORRIDOR redd+ ',
      registry: ' VERRA\t',
      vintage: 2021,
      quantity: '100.000',
      serialNumber: ` ${serial.toLowerCase()} `,
    };
    const before = await tableCounts(db);

    const first = await app.admin.credits.create.mutate(firstInput);
    const second = await app.admin.credits.create.mutate(respelled);

    expect(first.created).toBe(true);
    expect(first.credit).toMatchObject({ projectName: 'Kasigau Corridor REDD+', registry: 'Verra', quantity: '100', serialNumber: serial });
    expect(second.created).toBe(false);
    expect(second.credit).toEqual(first.credit);
    const { credit, events } = await app.admin.credits.get.query({ id: first.credit.id });
    expect(credit).toEqual(first.credit);
    expect(events.map((e) => e.type)).toEqual(['created']);
    expect(await storedFor(db, first.credit.id)).toEqual({ credits: 1, created: 1, events: 1 });
    expect(await tableCounts(db)).toEqual({ credits: before.credits + 1, events: before.events + 1 });
  });

  it('a full-width spelling of registry and serial is the same credit; a full-width first create is stored in ASCII', async () => {
    const fullWidth = (s: string) => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
    const serial = uniqueSerial('VCS-Wide');
    const first = await app.admin.credits.create.mutate(validCredit(serial));
    const again = await app.admin.credits.create.mutate({ ...validCredit(fullWidth(serial)), registry: fullWidth('Verra') });

    expect(again).toEqual({ created: false, credit: first.credit });
    expect(await storedFor(db, first.credit.id)).toEqual({ credits: 1, created: 1, events: 1 });

    const wideSerial = uniqueSerial('VCS-Wide');
    const wide = await app.admin.credits.create.mutate({ ...validCredit(fullWidth(wideSerial)), registry: fullWidth('Verra') });
    expect(wide.created).toBe(true);
    expect(wide.credit).toMatchObject({ registry: 'Verra', serialNumber: wideSerial });
    const { rows } = await db.query<{ payload: unknown }>(`select payload from events where credit_id = $1 and type = 'created'`, [wide.credit.id]);
    expect(JSON.stringify(rows)).toContain(`"serialNumber":"${wideSerial}"`);
    expect(JSON.stringify(rows)).toContain('"registry":"Verra"');
  });

  it('a key other than the first creator gets the existing credit too, and the history still names the first creator', async () => {
    const issuer = await app.as('issuer');
    const input = validCredit();
    const first = await issuer.client.credits.create.mutate(input);
    const again = await app.admin.credits.create.mutate(input);

    expect(again).toEqual({ created: false, credit: first.credit });
    const { events } = await app.admin.credits.get.query({ id: first.credit.id });
    expect(events.map((e) => e.actor)).toEqual([issuer.keyId]);
  });

  it('createMany answers a repeat of an earlier create as existing, with the stored spelling', async () => {
    const serial = uniqueSerial('VCS-Many');
    const first = await app.admin.credits.create.mutate({ ...validCredit(serial), quantity: '2.5' });
    const { results } = await app.admin.credits.createMany.mutate({
      items: [{ ...validCredit(serial.toUpperCase()), projectName: 'KASIGAU CORRIDOR REDD+', quantity: 2.5 }],
    });
    expect(results).toEqual([{ index: 0, outcome: 'existing', credit: first.credit }]);
    expect(await storedFor(db, first.credit.id)).toEqual({ credits: 1, created: 1, events: 1 });
  });

  it('createMany: a second spelling of a credit in the same batch is answered existing, showing the first spelling', async () => {
    const serial = uniqueSerial('VCS-Batch');
    const { results } = await app.admin.credits.createMany.mutate({
      items: [
        { projectName: 'Same Project', registry: 'Verra', vintage: 2020, quantity: '10', serialNumber: serial },
        { projectName: 'same   PROJECT', registry: 'VERRA', vintage: 2020, quantity: 10, serialNumber: serial.toLowerCase() },
      ],
    });
    const [created, repeat] = results;
    if (created?.outcome !== 'created') throw new Error(`first item: expected created, got ${JSON.stringify(created)}`);
    expect(created.credit).toMatchObject({ projectName: 'Same Project', registry: 'Verra', serialNumber: serial });
    // "Within one batch the first spelling of an ID or a serial wins, as it would across batches."
    expect(repeat).toEqual({ index: 1, outcome: 'existing', credit: created.credit });
    expect(await storedFor(db, created.credit.id)).toEqual({ credits: 1, created: 1, events: 1 });
  });
});
