import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectionOf } from '../helpers/api-errors.js';
import { ADMIN_KEY, startTestApp, type TestApp } from '../helpers/app.js';
import { openDb } from '../helpers/pg.js';
import { spawnWorker, waitForOutput } from '../helpers/worker-process.js';

/*
 * credits.list: keyset paging under concurrent inserts, filters, input
 * bounds, and the query plan PostgreSQL uses for it.
 */

type Credit = Awaited<ReturnType<TestApp['admin']['credits']['get']['query']>>['credit'];
type ListInput = Parameters<TestApp['admin']['credits']['list']['query']>[0];

/** Follows nextCursor to the end; returns every page's items in order. */
async function listAll(app: TestApp, input: Omit<NonNullable<ListInput>, 'cursor'>): Promise<Credit[][]> {
  const pages: Credit[][] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await app.admin.credits.list.query({ ...input, ...(cursor ? { cursor } : {}) });
    pages.push(page.items);
    if (!page.nextCursor) return pages;
    cursor = page.nextCursor;
  }
}

const byCreatedAtThenId = (a: Credit, b: Credit) =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

describe('paging through 1,000 credits while others are inserted', () => {
  let app: TestApp;
  let db: Pool;
  let seeded: Set<string>;

  beforeAll(async () => {
    app = await startTestApp();
    db = openDb(app.databaseUrl, 2);
    // The plan check below asks whether the list query can walk credits_page instead of sorting. On a
    // 1,000-row table, statistics that autovacuum may or may not have gathered by then flip the planner
    // between the two (both are cheap at this size), so this throwaway table keeps none; the benchmark
    // shows the list flat from 10,000 to 1,000,000 credits.
    await db.query('alter table credits set (autovacuum_enabled = off)');
    const items = Array.from({ length: 1000 }, (_, i) => ({
      projectName: `Paging Project ${i}`,
      registry: 'Verra',
      vintage: 2000 + (i % 20),
      quantity: String(1 + i),
      serialNumber: `PAGE-${String(i).padStart(4, '0')}`,
    }));
    const { results } = await app.admin.credits.createMany.mutate({ items });
    seeded = new Set(results.flatMap((r) => (r.outcome === 'created' ? [r.credit.id] : [])));
    expect(seeded.size).toBe(1000);
  });

  afterAll(async () => {
    await db?.end();
    await app?.close();
  });

  it('limit 37: each of the 1,000 IDs is seen exactly once, in (createdAt, id) order, whatever is inserted meanwhile', async () => {
    const inserter = app.client(ADMIN_KEY);
    let paging = true;
    let insertedMeanwhile = 0;
    const insertLoop = (async () => {
      while (paging) {
        await inserter.credits.create.mutate({
          projectName: 'Inserted While Paging',
          registry: 'Gold Standard',
          vintage: 2022,
          quantity: '1',
          serialNumber: `GS-${randomUUID()}`,
        });
        insertedMeanwhile++;
      }
    })();

    let pages: Credit[][];
    try {
      pages = await listAll(app, { limit: 37 });
    } finally {
      paging = false;
      await insertLoop;
    }

    const seen = pages.flat();
    expect(insertedMeanwhile).toBeGreaterThan(0);
    for (const page of pages.slice(0, -1)) expect(page).toHaveLength(37);
    expect(new Set(seen.map((c) => c.id)).size).toBe(seen.length); // no duplicates at all
    const seededSeen = seen.filter((c) => seeded.has(c.id)).map((c) => c.id);
    expect(seededSeen).toHaveLength(1000);
    expect(new Set(seededSeen)).toEqual(seeded); // no gaps
    expect(seen).toEqual([...seen].sort(byCreatedAtThenId));
  });

  it('the pages agree with one big page', async () => {
    const pages = await listAll(app, { limit: 37, registry: 'verra' });
    const whole = await app.admin.credits.list.query({ limit: 500, registry: 'VERRA' });
    expect(pages.flat().slice(0, 500)).toEqual(whole.items);
    expect(pages.flat().map((c) => c.id).filter((id) => seeded.has(id))).toHaveLength(1000);
  });

  /** Node types of an EXPLAIN (FORMAT JSON) plan, with the index each scan uses. */
  async function planOf(sql: string, params: unknown[]): Promise<{ nodes: string[]; indexes: string[] }> {
    const { rows } = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`explain (format json) ${sql}`, params);
    type PlanNode = { 'Node Type': string; 'Index Name'?: string; Plans?: PlanNode[] };
    const nodes: string[] = [];
    const indexes: string[] = [];
    const walk = (n: PlanNode) => {
      nodes.push(n['Node Type']);
      if (n['Index Name']) indexes.push(n['Index Name']);
      for (const child of n.Plans ?? []) walk(child);
    };
    const root = rows[0]?.['QUERY PLAN'][0].Plan;
    if (!root) throw new Error('no plan');
    walk(root);
    return { nodes, indexes };
  }

  // The statements credit-store.ts's pageCredits issues (its `?` placeholders become $n), first page and a later page.
  const FIRST_PAGE = `select * from credits 
    order by created_at, id limit $1`;
  const LATER_PAGE = `select * from credits where (created_at, id) > ($1::timestamptz, $2)
    order by created_at, id limit $3`;

  it('the list query walks the credits_page index: no Sort, no Seq Scan', async () => {
    const first = await planOf(FIRST_PAGE, [38]);
    expect(first.indexes).toContain('credits_page');
    expect(first.nodes).not.toContain('Sort');
    expect(first.nodes).not.toContain('Seq Scan');

    const page = await app.admin.credits.list.query({ limit: 37 });
    const last = page.items.at(-1);
    if (!last) throw new Error('empty page');
    const later = await planOf(LATER_PAGE, [last.createdAt, last.id, 38]);
    expect(later.indexes).toContain('credits_page');
    expect(later.nodes).not.toContain('Sort');
    expect(later.nodes).not.toContain('Seq Scan');
  });
});

describe('credits.list filters and bounds', () => {
  let app: TestApp;
  const ids: Record<string, string> = {};
  let retiredId: string;

  // Distinct registries, vintages and names, so each filter has one right answer.
  const fixtures = {
    kasigau: { projectName: 'Kasigau Corridor', registry: 'Verra', vintage: 2019, quantity: '10', serialNumber: 'VCS-1' },
    rimba: { projectName: 'Rimba Raya', registry: 'Gold Standard', vintage: 2020, quantity: '20', serialNumber: 'GS-1' },
    percent: { projectName: '100% Forest_Reserve', registry: ' VERRA ', vintage: 2020, quantity: '30', serialNumber: 'VCS-2' },
    plain: { projectName: 'Forest 100 Reserve', registry: 'Puro.earth', vintage: 2021, quantity: '40', serialNumber: 'PURO-1' },
    extension: { projectName: 'KASIGAU Extension', registry: 'verra', vintage: 2021, quantity: '50', serialNumber: 'VCS-3' },
  };
  type Name = keyof typeof fixtures;

  beforeAll(async () => {
    app = await startTestApp();
    // One at a time, so createdAt order is the order above.
    for (const [name, input] of Object.entries(fixtures)) {
      ids[name] = (await app.admin.credits.create.mutate(input)).credit.id;
      await new Promise((r) => setTimeout(r, 2));
    }
    // A real retirement, done by a real worker, so the status filter has both kinds.
    retiredId = ids.rimba ?? '';
    await app.admin.credits.retire.mutate({ id: retiredId, beneficiary: 'Filter Test' });
    const worker = spawnWorker(app.env);
    try {
      await waitForOutput(worker, /retirement worker started/);
      const deadline = Date.now() + 20_000;
      while ((await app.admin.credits.retirementStatus.query({ id: retiredId })).status !== 'retired') {
        if (Date.now() > deadline) throw new Error(`credit was not retired in time; worker output:\n${worker.output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await worker.stop();
    }
  }, 60_000);

  afterAll(async () => {
    await app?.close();
  });

  const names = (items: Credit[]) => items.map((c) => Object.keys(ids).find((n) => ids[n] === c.id));

  it.each<[string, NonNullable<ListInput>, Name[]]>([
    ['no filter', {}, ['kasigau', 'rimba', 'percent', 'plain', 'extension']],
    ['registry, any case and surrounding space', { registry: '  VeRRa ' }, ['kasigau', 'percent', 'extension']],
    ['registry with no credits', { registry: 'American Carbon Registry' }, []],
    ['vintage', { vintage: 2020 }, ['rimba', 'percent']],
    ['status active', { status: 'active' }, ['kasigau', 'percent', 'plain', 'extension']],
    ['status retired', { status: 'retired' }, ['rimba']],
    ['projectName contains, any case', { projectName: 'kasigau' }, ['kasigau', 'extension']],
    ['projectName "100"', { projectName: '100' }, ['percent', 'plain']],
    ['projectName "%" is literal, not a wildcard', { projectName: '%' }, ['percent']],
    ['projectName "_" is literal, not a wildcard', { projectName: 'Forest_' }, ['percent']],
    ['projectName with a backslash matches nothing', { projectName: 'Forest\\' }, []],
    ['registry and vintage together', { registry: 'verra', vintage: 2021 }, ['extension']],
    ['registry, vintage and status together', { registry: 'gold standard', vintage: 2020, status: 'active' }, []],
  ])('%s', async (_name, filter, expected) => {
    const page = await app.admin.credits.list.query({ ...filter, limit: 100 });
    expect(names(page.items)).toEqual(expected);
    expect(page.nextCursor).toBeNull();
  });

  it('a filtered list pages correctly with limit 1', async () => {
    const pages = await listAll(app, { registry: 'VERRA', limit: 1 });
    expect(pages.map(names)).toEqual([['kasigau'], ['percent'], ['extension']]);
  });

  it('the retired credit is shown retired, with its retirement time', async () => {
    const page = await app.admin.credits.list.query({ status: 'retired' });
    expect(page.items).toEqual([expect.objectContaining({ id: retiredId, status: 'retired', retiredAt: expect.any(String) as unknown })]);
  });

  it.each([1, 500])('limit %i is accepted', async (limit) => {
    const page = await app.admin.credits.list.query({ limit });
    expect(page.items.length).toBe(Math.min(limit, 5));
    expect(page.nextCursor === null).toBe(limit >= 5);
  });

  it.each<[string, unknown]>([
    ['limit 0', { limit: 0 }],
    ['limit 501', { limit: 501 }],
    ['limit -1', { limit: -1 }],
    ['limit 1.5', { limit: 1.5 }],
    ['limit "10"', { limit: '10' }],
  ])('%s → BAD_REQUEST naming limit', async (_name, input) => {
    const err = await rejectionOf(app.admin.credits.list.query(input as never));
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.data?.issues?.map((i) => i.path)).toEqual(['limit']);
  });

  it.each<[string, string, unknown]>([
    ['vintage 1989', 'vintage', { vintage: 1989 }],
    ['status "pending"', 'status', { status: 'pending' }],
    ['empty registry', 'registry', { registry: ' ' }],
    ['unknown key', '(input)', { sort: 'desc' }],
  ])('filter %s → BAD_REQUEST naming %s', async (_name, path, input) => {
    const err = await rejectionOf(app.admin.credits.list.query(input as never));
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.data?.issues?.map((i) => i.path)).toContain(path);
  });

  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it.each<[string, string]>([
    ['not base64 JSON', 'not-a-cursor!'],
    ['base64 of plain text', Buffer.from('hello').toString('base64url')],
    ['an object instead of a pair', b64({ createdAt: '2024-01-01T00:00:00.000Z', id: 'x' })],
    ['a pair with a number as ID', b64(['2024-01-01T00:00:00.000Z', 5])],
    ['a pair with no date', b64(['yesterday', 'cc_x'])],
    ['longer than 500 characters', 'a'.repeat(501)],
  ])('a bad cursor (%s) → BAD_REQUEST', async (_name, cursor) => {
    const err = await rejectionOf(app.admin.credits.list.query({ cursor }));
    expect(err.data?.code).toBe('BAD_REQUEST');
  });

  it.each<[string, string]>([
    // JavaScript's Date.parse accepts these, PostgreSQL's timestamptz does not.
    ['a bare number as date', b64(['1', 'cc_x'])],
    ['a date before 4713 BC', b64(['-271821-04-20T00:00:00.000Z', 'cc_x'])],
  ])('a forged cursor (%s) → BAD_REQUEST, not an internal error', async (_name, cursor) => {
    const err = await rejectionOf(app.admin.credits.list.query({ cursor }));
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.data?.httpStatus).toBe(400);
  });
});
