import { randomBytes, randomUUID } from 'node:crypto';
import { TRPCClientError } from '@trpc/client';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalRegistry, canonicalSerial, creditId } from '../../server/credits/canonical-id.js';
import { rejectionOf, type ApiError } from '../helpers/api-errors.js';
import { ADMIN_KEY, startTestApp, type TestApp } from '../helpers/app.js';
import { openDb } from '../helpers/pg.js';

/*
 * credits.create and credits.createMany against the real API and database:
 * idempotency, serial conflicts, concurrent creates, and invalid input that
 * must leave both tables untouched.
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

async function tableCounts(): Promise<{ credits: number; events: number }> {
  const { rows } = await db.query<{ credits: string; events: string }>(
    'select (select count(*) from credits) as credits, (select count(*) from events) as events',
  );
  const [row] = rows;
  if (!row) throw new Error('count query returned no row');
  return { credits: Number(row.credits), events: Number(row.events) };
}

/** Rows stored for one credit: its projection rows and its `created` events. */
async function storedFor(id: string): Promise<{ credits: number; created: number; events: number }> {
  const { rows } = await db.query<{ credits: string; created: string; events: string }>(
    `select (select count(*) from credits where id = $1) as credits,
            (select count(*) from events where credit_id = $1 and type = 'created') as created,
            (select count(*) from events where credit_id = $1) as events`,
    [id],
  );
  const [row] = rows;
  if (!row) throw new Error('count query returned no row');
  return { credits: Number(row.credits), created: Number(row.created), events: Number(row.events) };
}

/**
 * An open transaction holding uncommitted credits rows with these IDs or
 * registry serials: an insert of the same ID or serial waits for it
 * mid-statement. `release` rolls it back, so nothing of it is ever kept.
 */
async function holdCreditRows(rows: { id?: string; registry: string; serialNumber: string }[]) {
  const conn = await db.connect();
  try {
    await conn.query('begin');
    for (const r of rows) {
      await conn.query(
        `insert into credits (id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key, status, created_at, version)
         values ($1, 'held by the test', $2, 2020, 1, $3, $4, $5, 'active', now(), 1)`,
        [r.id ?? `cc_${randomBytes(32).toString('hex')}`, r.registry, r.serialNumber, canonicalRegistry(r.registry), canonicalSerial(r.serialNumber)],
      );
    }
    const [me] = (await conn.query<{ pid: number }>('select pg_backend_pid() as pid')).rows;
    if (!me) throw new Error('no backend pid');
    let released = false;
    return {
      pid: me.pid,
      async release() {
        if (released) return;
        released = true;
        await conn.query('rollback').finally(() => conn.release());
      },
    };
  } catch (err) {
    await conn.query('rollback').catch(() => undefined);
    conn.release();
    throw err;
  }
}

/** Waits until `enough` says so about this database's backends that wait on a lock, and who blocks each. */
async function waitForLockWaits(what: string, enough: (waits: { pid: number; blockers: number[] }[]) => boolean) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await db.query<{ pid: number; blockers: number[] }>(
      `select pid, pg_blocking_pids(pid) as blockers from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`,
    );
    if (enough(rows)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; lock waits: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A serial number no other test uses, so every test owns its credits. */
const uniqueSerial = (label: string) => `${label}-${randomUUID()}`;

const validCredit = (serialNumber = uniqueSerial('VCS')) => ({
  projectName: 'Kasigau Corridor REDD+',
  registry: 'Verra',
  vintage: 2021,
  quantity: '100',
  serialNumber,
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
    expect(await storedFor(first.credit.id)).toEqual({ credits: 1, created: 1, events: 1 });
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
    const before = await tableCounts();

    const first = await app.admin.credits.create.mutate(firstInput);
    const second = await app.admin.credits.create.mutate(respelled);

    expect(first.created).toBe(true);
    expect(first.credit).toMatchObject({ projectName: 'Kasigau Corridor REDD+', registry: 'Verra', quantity: '100', serialNumber: serial });
    expect(second.created).toBe(false);
    expect(second.credit).toEqual(first.credit);
    const { credit, events } = await app.admin.credits.get.query({ id: first.credit.id });
    expect(credit).toEqual(first.credit);
    expect(events.map((e) => e.type)).toEqual(['created']);
    expect(await storedFor(first.credit.id)).toEqual({ credits: 1, created: 1, events: 1 });
    expect(await tableCounts()).toEqual({ credits: before.credits + 1, events: before.events + 1 });
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
    expect(await storedFor(first.credit.id)).toEqual({ credits: 1, created: 1, events: 1 });
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
    expect(await storedFor(created.credit.id)).toEqual({ credits: 1, created: 1, events: 1 });
  });
});

describe('a registry serial belongs to one credit', () => {
  it('different details with the same registry + serial (other case) → CONFLICT naming the existing credit; nothing written', async () => {
    const serial = uniqueSerial('VCS-Conflict');
    const existing = await app.admin.credits.create.mutate(validCredit(serial));
    const before = await tableCounts();

    const err = await rejectionOf(
      app.admin.credits.create.mutate({ ...validCredit(serial.toLowerCase()), registry: 'VERRA', projectName: 'Another Project' }),
    );

    expect(err.data?.code).toBe('CONFLICT');
    expect(err.data?.httpStatus).toBe(409);
    expect(err.data?.details).toMatchObject({ existingId: existing.credit.id });
    expect(err.message).toContain(existing.credit.id);
    expect(await tableCounts()).toEqual(before);
    expect(await storedFor(existing.credit.id)).toEqual({ credits: 1, created: 1, events: 1 });
  });

  it('a different quantity or vintage for the same serial conflicts as well', async () => {
    const serial = uniqueSerial('VCS-Conflict2');
    const existing = await app.admin.credits.create.mutate(validCredit(serial));
    const before = await tableCounts();

    for (const change of [{ quantity: '100.5' }, { vintage: 2020 }]) {
      const err = await rejectionOf(app.admin.credits.create.mutate({ ...validCredit(serial), ...change }));
      expect(err.data?.code).toBe('CONFLICT');
      expect(err.data?.details).toMatchObject({ existingId: existing.credit.id });
    }
    expect(await tableCounts()).toEqual(before);
  });

  it('createMany answers such an item with outcome conflict and the existing ID, and still creates the valid others', async () => {
    const serial = uniqueSerial('VCS-ManyConflict');
    const existing = await app.admin.credits.create.mutate(validCredit(serial));
    const fresh = validCredit();
    const before = await tableCounts();

    const { results } = await app.admin.credits.createMany.mutate({
      items: [{ ...validCredit(serial), projectName: 'Different Project' }, fresh],
    });

    expect(results[0]).toMatchObject({ index: 0, outcome: 'conflict', existingId: existing.credit.id });
    expect(results[1]).toMatchObject({ index: 1, outcome: 'created', credit: { serialNumber: fresh.serialNumber } });
    expect(await tableCounts()).toEqual({ credits: before.credits + 1, events: before.events + 1 });
  });
});

describe('concurrent creates', () => {
  /** Separate clients, so no two calls share a batched HTTP request. */
  const clients = (n: number) => Array.from({ length: n }, () => app.client(ADMIN_KEY));

  it('20 identical creates at once: exactly one created:true, one row, one created event', async () => {
    const input = validCredit(uniqueSerial('VCS-Race'));
    const before = await tableCounts();

    const results = await Promise.all(clients(20).map((c) => c.credits.create.mutate(input)));

    expect(results.filter((r) => r.created)).toHaveLength(1);
    const ids = new Set(results.map((r) => r.credit.id));
    expect(ids.size).toBe(1);
    const [id] = ids;
    if (!id) throw new Error('no ID');
    for (const r of results) expect(r.credit).toEqual(results[0]?.credit);
    expect(await storedFor(id)).toEqual({ credits: 1, created: 1, events: 1 });
    expect(await tableCounts()).toEqual({ credits: before.credits + 1, events: before.events + 1 });
  });

  it('20 different credits claiming one serial at once: one is created, the other 19 get CONFLICT naming it', async () => {
    const serial = uniqueSerial('VCS-SerialRace');
    const before = await tableCounts();

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
    expect(await tableCounts()).toEqual({ credits: before.credits + 1, events: before.events + 1 });
  });

  it('two importers sending the same batch at the same moment, in opposite orders, both get an answer for every item', async () => {
    // Multi-row inserts of the same rows in opposite orders can deadlock in PostgreSQL. An importer
    // retrying a file while another imports it must still get answers (created or existing), never a 500.
    for (let round = 0; round < 2; round++) {
      const items = Array.from({ length: 300 }, (_, i) => validCredit(uniqueSerial(`VCS-Import-${round}-${i}`)));
      const [a, b] = clients(2);
      if (!a || !b) throw new Error('no clients');
      // Line the two requests up: each waits on its first row, then both insert at the same moment.
      const gate = await holdCreditRows([items[0], items.at(-1)].flatMap((i) => (i ? [i] : [])));
      let settled;
      try {
        const running = Promise.allSettled([a.credits.createMany.mutate({ items }), b.credits.createMany.mutate({ items: [...items].reverse() })]);
        // Each waits on a held row, or on the other import that already waits on one.
        await waitForLockWaits('both imports to wait', (waits) => waits.length >= 2 && waits.some((w) => w.blockers.includes(gate.pid)));
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
    const before = await tableCounts();

    // Interleave them: A inserts X, then waits (on the test) before Y; B inserts Y', then reaches X'.
    const holdY = await holdCreditRows([{ id: idOf(s2, a), registry: 'Elsewhere', serialNumber: uniqueSerial('held') }]);
    const holdY2 = await holdCreditRows([{ id: idOf(s2, b), registry: 'Elsewhere', serialNumber: uniqueSerial('held') }]);
    let settled;
    try {
      const runA = ca.credits.createMany.mutate({ items: batchA });
      runA.catch(() => undefined); // judged below, after both have answered
      await waitForLockWaits('A to hold X and wait before Y', (waits) => waits.some((w) => w.blockers.includes(holdY.pid)));
      const runB = cb.credits.createMany.mutate({ items: batchB });
      runB.catch(() => undefined);
      await waitForLockWaits('B to wait as well', (waits) => waits.length >= 2);
      await holdY2.release();
      // B has inserted Y' and reached X', which A holds: B now waits for A.
      const held = [holdY.pid, holdY2.pid];
      await waitForLockWaits('B to wait for A', (waits) => waits.some((w) => w.blockers.length > 0 && !w.blockers.some((p) => held.includes(p))));
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
    expect(await tableCounts()).toEqual({ credits: before.credits + 2, events: before.events + 2 });
  });
});

describe('invalid input is refused with the field named, and nothing is stored', () => {
  const nextYear = new Date().getUTCFullYear() + 1;
  const base = () => validCredit(uniqueSerial('VCS-Invalid'));
  const withField = (field: string, value: unknown) => ({ ...base(), [field]: value });
  const without = (field: string) => {
    const input: Record<string, unknown> = base();
    delete input[field];
    return input;
  };

  it.each<[string, string, () => unknown]>([
    ['empty projectName', 'projectName', () => withField('projectName', '')],
    ['whitespace-only projectName', 'projectName', () => withField('projectName', ' \t  ')],
    ['projectName with a control character', 'projectName', () => withField('projectName', 'Kasigau\u0007Corridor')],
    ['projectName with a newline inside', 'projectName', () => withField('projectName', 'Kasigau\nCorridor')],
    ['serialNumber with a NUL character', 'serialNumber', () => withField('serialNumber', 'VCS\u0000-1')],
    ['empty registry', 'registry', () => withField('registry', '')],
    ['projectName of 201 characters', 'projectName', () => withField('projectName', 'p'.repeat(201))],
    ['registry of 101 characters', 'registry', () => withField('registry', 'r'.repeat(101))],
    ['serialNumber of 201 characters', 'serialNumber', () => withField('serialNumber', 's'.repeat(201))],
    ['vintage 1989', 'vintage', () => withField('vintage', 1989)],
    [`vintage next year (${nextYear})`, 'vintage', () => withField('vintage', nextYear)],
    ['fractional vintage', 'vintage', () => withField('vintage', 2020.5)],
    ['vintage as a string', 'vintage', () => withField('vintage', '2020')],
    ['quantity 0', 'quantity', () => withField('quantity', 0)],
    ['quantity "0.000"', 'quantity', () => withField('quantity', '0.000')],
    ['quantity -1', 'quantity', () => withField('quantity', -1)],
    ['quantity "-1"', 'quantity', () => withField('quantity', '-1')],
    ['quantity 1.1234567 (7 decimals)', 'quantity', () => withField('quantity', 1.1234567)],
    ['quantity "1.1234567"', 'quantity', () => withField('quantity', '1.1234567')],
    ['quantity 1e13', 'quantity', () => withField('quantity', 1e13)],
    ['quantity "1e13"', 'quantity', () => withField('quantity', '1e13')],
    ['quantity "abc"', 'quantity', () => withField('quantity', 'abc')],
    ['quantity true', 'quantity', () => withField('quantity', true)],
    ['quantity null', 'quantity', () => withField('quantity', null)],
    ['projectName as a number', 'projectName', () => withField('projectName', 42)],
    ['registry as an object', 'registry', () => withField('registry', { name: 'Verra' })],
    ['serialNumber as an array', 'serialNumber', () => withField('serialNumber', ['VCS-1'])],
    ['missing serialNumber', 'serialNumber', () => without('serialNumber')],
    ['missing vintage', 'vintage', () => without('vintage')],
  ])('%s → BAD_REQUEST naming %s', async (_name, path, input) => {
    const before = await tableCounts();
    const err = await rejectionOf(app.admin.credits.create.mutate(input() as never));

    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.data?.httpStatus).toBe(400);
    const issues = err.data?.issues ?? [];
    expect(issues.map((i) => i.path)).toContain(path);
    for (const issue of issues.filter((i) => i.path === path)) expect(issue.message).toMatch(new RegExp(`^${path}\\b`));
    expect(await tableCounts()).toEqual(before);
  });

  it('unknown extra keys → BAD_REQUEST whose issue names the unknown key (on the input as a whole); nothing stored', async () => {
    const before = await tableCounts();
    const err = await rejectionOf(app.admin.credits.create.mutate({ ...base(), owner: 'someone', tons: 5 } as never));

    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.data?.issues).toEqual([{ path: '(input)', message: expect.stringMatching(/unknown field\(s\): owner, tons/) as unknown }]);
    expect(await tableCounts()).toEqual(before);
  });

  it('an input that is not an object → BAD_REQUEST; nothing stored', async () => {
    const before = await tableCounts();
    for (const input of ['Kasigau', 42, null, [validCredit()]]) {
      const err = await rejectionOf(app.admin.credits.create.mutate(input as never));
      expect(err.data?.code).toBe('BAD_REQUEST');
      expect(err.data?.issues?.length).toBeGreaterThan(0);
    }
    expect(await tableCounts()).toEqual(before);
  });

  it('several bad fields at once are all reported', async () => {
    const err = await rejectionOf(
      app.admin.credits.create.mutate({ ...base(), projectName: '', vintage: 1989, quantity: 'abc' }),
    );
    expect(err.data?.issues?.map((i) => i.path).sort()).toEqual(['projectName', 'quantity', 'vintage']);
  });

  it('createMany: an invalid item is answered invalid with its issues, valid items are created, nothing is stored for the bad one', async () => {
    const good = base();
    const before = await tableCounts();
    const { results } = await app.admin.credits.createMany.mutate({
      items: [{ ...base(), vintage: 1989 }, good, 'not a credit', { ...base(), quantity: 0 }],
    });

    expect(results.map((r) => r.outcome)).toEqual(['invalid', 'created', 'invalid', 'invalid']);
    expect(results[0]).toMatchObject({ index: 0, issues: [{ path: 'vintage' }] });
    expect(results[3]).toMatchObject({ index: 3, issues: [{ path: 'quantity' }] });
    expect(await tableCounts()).toEqual({ credits: before.credits + 1, events: before.events + 1 });
  });

  it.each([
    ['no items', []],
    ['1001 items', Array.from({ length: 1001 }, () => validCredit('VCS-too-many'))],
  ])('createMany with %s → BAD_REQUEST naming items; nothing stored', async (_name, items) => {
    const before = await tableCounts();
    const err = await rejectionOf(app.admin.credits.createMany.mutate({ items }));
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.data?.issues?.map((i) => i.path)).toEqual(['items']);
    expect(await tableCounts()).toEqual(before);
  });
});
