import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { openDb } from '../helpers/pg.js';

/*
 * credits.list's projectName filter at a scale where reading the whole table
 * would hurt: PostgreSQL answers it from the trigram index. The 100,000 rows
 * are written straight into the projection (this file's own database, no
 * events): only the planner's view of the table matters here.
 */

let app: TestApp;
let db: Pool;

beforeAll(async () => {
  app = await startTestApp();
  db = openDb(app.databaseUrl, 2);
  await db.query(
    `insert into credits (id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key, status, retirement_state, created_at, version)
     select 'cc_' || lpad(to_hex(i), 64, '0'), 'Wind Farm ' || i, 'Verra', 2020, 1, 'S-' || i, 'verra', 's-' || i, 'active', 'none',
            timestamptz '2024-01-01' + i * interval '1 second', 1
     from generate_series(1, 100000) i`,
  );
  await db.query('analyze credits');
  await app.admin.credits.create.mutate({ projectName: 'Mangrove Zeta Restoration', registry: 'Verra', vintage: 2020, quantity: '1', serialNumber: 'ZETA-1' });
});

afterAll(async () => {
  await db?.end();
  await app?.close();
});

describe('projectName search on 100,000 credits', () => {
  it('reads the trigram index, not the whole table, and finds the one match', async () => {
    const { rows } = await db.query<{ 'QUERY PLAN': string }>(
      `explain select * from credits where project_name ilike $1 escape '\\' order by created_at, id limit 51`,
      ['%zeta restor%'],
    );
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toContain('Bitmap Index Scan on credits_project_name_trgm');
    expect(plan).not.toContain('Seq Scan');

    const found = await app.admin.credits.list.query({ projectName: 'ZETA restor' });
    expect(found.items.map((c) => c.projectName)).toEqual(['Mangrove Zeta Restoration']);
  });
});
