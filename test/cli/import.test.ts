import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { cliEnv, generatedCredit, runCli, startCli, writeCsv } from '../helpers/cli-run.js';
import { withPgClient } from '../helpers/pg.js';

/*
 * `admin import` as an operator runs it: a subprocess against the real API,
 * checked against what actually landed in PostgreSQL.
 */

type Summary = {
  ok: boolean;
  complete: boolean;
  rows: number;
  skipped: number;
  created: number;
  existing: number;
  conflicts: number;
  invalid: number;
  errors: { row: number; outcome: 'invalid' | 'conflict'; message: string; existingId?: string }[];
  errorsTotal: number;
  checkpoint?: string;
  resumeAfterRow?: number;
};

let app: TestApp;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  app = await startTestApp();
  env = cliEnv(app);
  dir = await mkdtemp(path.join(os.tmpdir(), 'admin-import-'));
});

afterAll(async () => {
  await app?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const countWhere = (sql: string, params: unknown[] = []) =>
  withPgClient(app.databaseUrl, async (c) => Number((await c.query<{ n: string }>(sql, params)).rows[0]?.n));

const credits = (serialPrefix: string) => countWhere(`select count(*) as n from credits where serial_number like $1`, [`${serialPrefix}-%`]);

describe('admin import', () => {
  it('imports 10,000 CSV rows, and a second run creates nothing and says so', async () => {
    const file = path.join(dir, 'ten-thousand.csv');
    await writeCsv(file, Array.from({ length: 10_000 }, (_, i) => generatedCredit('TENK', i)));

    const first = await runCli(['import', file, '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json<Summary>()).toMatchObject({ ok: true, complete: true, rows: 10_000, skipped: 0, created: 10_000, existing: 0, conflicts: 0, invalid: 0, errorsTotal: 0 });
    expect(await credits('TENK')).toBe(10_000);
    expect(await countWhere(`select count(*) as n from events where type = 'created'`)).toBeGreaterThanOrEqual(10_000);
    // A finished import leaves no checkpoint behind.
    expect(existsSync(`${file}.import-state.json`)).toBe(false);

    const second = await runCli(['import', file], env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/created\s+0\n/);
    expect(second.stdout).toMatch(/already existed\s+10000\n/);
    expect(second.stdout).toContain('Nothing new');

    const third = await runCli(['import', file, '--json'], env);
    expect(third.json<Summary>()).toMatchObject({ rows: 10_000, created: 0, existing: 10_000, conflicts: 0, invalid: 0 });
    expect(await credits('TENK')).toBe(10_000);
  });

  it('imports the good rows of a bad file and reports each bad one by CSV line number', async () => {
    const file = path.join(dir, 'bad-rows.csv');
    await writeCsv(file, [
      generatedCredit('BAD', 1), // line 2: fine
      { ...generatedCredit('BAD', 2), vintage: 1850 }, // line 3: vintage out of range
      'Only four,Verra,2020,10', // line 4: wrong number of fields
      { ...generatedCredit('BAD', 3), projectName: 'Two\nlines' }, // lines 5-6: control character in a quoted field
      generatedCredit('BAD', 4), // line 7: fine
      'Stray "quote,Verra,2020,1,BAD-0000005', // line 8: malformed CSV
      { ...generatedCredit('BAD', 1), quantity: '999' }, // line 9: same serial, other details
      { ...generatedCredit('BAD', 6), quantity: '-3' }, // line 10: negative quantity
      { ...generatedCredit('BAD', 7), vintage: 'MMXX' }, // line 11: not a number
      generatedCredit('BAD', 8), // line 12: fine
    ]);

    const result = await runCli(['import', file, '--json'], env);
    expect(result.code).toBe(1);
    const summary = result.json<Summary>();
    expect(summary).toMatchObject({ ok: false, complete: true, rows: 10, created: 3, existing: 0, conflicts: 1, invalid: 6, errorsTotal: 7 });
    expect(summary.errors.map((e) => [e.row, e.outcome])).toEqual([
      [3, 'invalid'],
      [4, 'invalid'],
      [5, 'invalid'],
      [8, 'invalid'],
      [9, 'conflict'],
      [10, 'invalid'],
      [11, 'invalid'],
    ]);
    expect(summary.errors.find((e) => e.row === 3)?.message).toMatch(/^vintage must be between 1990/);
    expect(summary.errors.find((e) => e.row === 4)?.message).toContain('expected 5 fields');
    expect(summary.errors.find((e) => e.row === 5)?.message).toContain('control characters');
    expect(summary.errors.find((e) => e.row === 8)?.message).toContain('malformed CSV');
    expect(summary.errors.find((e) => e.row === 9)?.existingId).toMatch(/^cc_[0-9a-f]{64}$/);
    // Every problem is also printed, line number first, for a person reading stderr.
    for (const line of [3, 4, 5, 8, 9, 10, 11]) expect(result.stderr).toMatch(new RegExp(`^line ${line}: `, 'm'));
    expect(await credits('BAD')).toBe(3);
    const landed = await withPgClient(app.databaseUrl, async (c) =>
      (await c.query<{ serial_number: string; quantity: string }>(`select serial_number, quantity::text from credits where serial_number like 'BAD-%' order by 1`)).rows,
    );
    expect(landed.map((r) => r.serial_number)).toEqual(['BAD-0000001', 'BAD-0000004', 'BAD-0000008']);
  });

  it('imports a JSON array and numbers its items from 1', async () => {
    const file = path.join(dir, 'credits.json');
    const items: unknown[] = Array.from({ length: 30 }, (_, i) => generatedCredit('JSON', i));
    items[4] = 'not an object';
    items[9] = { ...generatedCredit('JSON', 9), color: 'green' };
    await writeFile(file, JSON.stringify(items));
    const result = await runCli(['import', file, '--json'], env);
    expect(result.code).toBe(1);
    const summary = result.json<Summary>();
    expect(summary).toMatchObject({ rows: 30, created: 28, invalid: 2, conflicts: 0 });
    expect(summary.errors.map((e) => e.row)).toEqual([5, 10]);
    expect(summary.errors[1]?.message).toContain('unknown field(s): color');
    expect(await credits('JSON')).toBe(28);
  });

  it('reads a block’s units from the optional unitFirst,unitLast columns (both or neither), or from a Verra or Gold Standard serial', async () => {
    const file = path.join(dir, 'blocks.csv');
    const verra = '19298-935995787-935996396-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0';
    await writeCsv(
      file,
      [
        'Hydro,Verra,2018,100,UNITS-0000001,1,100', // line 2: units given
        `Hydro,Verra,2018,610,${verra},,`, // line 3: units read from the serial
        'Hydro,Verra,2018,12.5,UNITS-0000002,,', // line 4: amount-only
        'Hydro,Verra,2018,10,UNITS-0000003,1,', // line 5: only unitFirst
        'Hydro,Verra,2018,99,UNITS-0000004,1,100', // line 6: quantity is not the unit count
        'Hydro,Verra,2018,10,UNITS-0000005,one,10', // line 7: not a number
        `Hydro,Verra,2018,18,${verra.replace('935996396', '935995804')},,`, // line 8: units the credit of line 3 holds
        'Hydro,Verra,2018,10,UNITS-0000001,91,100', // line 9: the serial of line 2, units it holds
      ],
      'projectName,registry,vintage,quantity,serialNumber,unitFirst,unitLast',
    );
    const result = await runCli(['import', file, '--json'], env);
    expect(result.code).toBe(1);
    const summary = result.json<Summary>();
    expect(summary).toMatchObject({ rows: 8, created: 3, conflicts: 2, invalid: 3 });
    expect(summary.errors.map((e) => [e.row, e.outcome])).toEqual([
      [5, 'invalid'],
      [6, 'invalid'],
      [7, 'invalid'],
      [8, 'conflict'],
      [9, 'conflict'],
    ]);
    const byRow = new Map(summary.errors.map((e) => [e.row, e]));
    expect(byRow.get(5)?.message).toContain('unitFirst and unitLast must both be given or both be empty');
    expect(byRow.get(6)?.message).toMatch(/^quantity 99 does not match unitRange, 1…100/);
    expect(byRow.get(7)?.message).toContain('unitRange.first must be a whole number');
    expect(byRow.get(8)?.message).toContain('935995787…935995804');
    expect(byRow.get(9)?.message).toContain('91…100');
    const landed = await withPgClient(app.databaseUrl, async (c) =>
      (
        await c.query<{ serial_number: string; unit_first: string | null; unit_last: string | null }>(
          `select serial_number, unit_first, unit_last from credits where project_name = 'Hydro' order by serial_number`,
        )
      ).rows,
    );
    expect(landed).toEqual([
      { serial_number: verra, unit_first: '935995787', unit_last: '935996396' },
      { serial_number: 'UNITS-0000001', unit_first: '1', unit_last: '100' },
      { serial_number: 'UNITS-0000002', unit_first: null, unit_last: null },
    ]);
    // A second run: every row that landed is already there.
    expect((await runCli(['import', file, '--json'], env)).json<Summary>()).toMatchObject({ created: 0, existing: 3 });
  });

  it('takes unitRange in JSON items as the API does', async () => {
    const file = path.join(dir, 'blocks.json');
    const item = (serialNumber: string, quantity: string, unitRange?: unknown) => ({ projectName: 'Hydro JSON', registry: 'Verra', vintage: 2018, quantity, serialNumber, ...(unitRange ? { unitRange } : {}) });
    await writeFile(file, JSON.stringify([item('JUNITS-1', '50', { first: 0, last: 49 }), item('JUNITS-2', '5', { first: 10, last: 9 }), item('GS1-1-TR-GS7652-12-2025-777-1-20', '20')]));
    const result = await runCli(['import', file, '--json'], env);
    const summary = result.json<Summary>();
    expect(summary).toMatchObject({ rows: 3, created: 2, invalid: 1 });
    expect(summary.errors).toEqual([{ row: 2, outcome: 'invalid', message: expect.stringContaining('unitRange') as unknown }]);
    const units = await withPgClient(app.databaseUrl, async (c) =>
      (await c.query<{ u: string }>(`select unit_first || '-' || unit_last as u from credits where project_name = 'Hydro JSON' order by serial_number`)).rows.map((r) => r.u),
    );
    expect(units).toEqual(['1-20', '0-49']);
  });

  it('refuses unitFirst without unitLast in the header (usage error)', async () => {
    const file = path.join(dir, 'half-units.csv');
    await writeCsv(file, ['Hydro,Verra,2018,10,HALF-0000001,1'], 'projectName,registry,vintage,quantity,serialNumber,unitFirst');
    const result = await runCli(['import', file, '--json'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/bad CSV header \(missing unitLast \(unitFirst and unitLast go together\)\)/);
    expect(await credits('HALF')).toBe(0);
  });

  it('refuses a file whose header is wrong, before creating anything (usage error)', async () => {
    const file = path.join(dir, 'bad-header.csv');
    await writeCsv(file, [generatedCredit('HDR', 1)], 'projectName,registry,year,quantity,serialNumber');
    const result = await runCli(['import', file, '--json'], env);
    expect(result.code).toBe(2);
    expect(result.json<{ ok: boolean; error: string }>()).toMatchObject({ ok: false });
    expect(result.stderr).toMatch(/bad CSV header \(missing vintage; unknown "year"\)/);
    expect(await credits('HDR')).toBe(0);
  });

  it('stops cleanly on Ctrl-C and resumes after the last acknowledged row', async () => {
    const file = path.join(dir, 'interrupted.csv');
    const total = 20_000;
    await writeCsv(file, Array.from({ length: total }, (_, i) => generatedCredit('INT', i)));
    const checkpoint = `${file}.import-state.json`;

    // Small sequential batches, so the import is surely still running when the signal comes.
    const running = startCli(['import', file, '--json', '--batch-size', '50', '--concurrency', '1'], env);
    const deadline = Date.now() + 30_000;
    while (!existsSync(checkpoint)) {
      if (Date.now() > deadline) throw new Error(`no checkpoint appeared; stderr:\n${running.stderr()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    running.proc.kill('SIGINT');
    const stopped = await running.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    const partial = stopped.json<Summary>();
    expect(partial.complete).toBe(false);
    expect(partial.rows).toBeGreaterThan(0);
    expect(partial.rows).toBeLessThan(total);
    // Everything acknowledged is in the checkpoint and in the database; nothing beyond it was sent.
    const state = JSON.parse(await readFile(checkpoint, 'utf8')) as { lastOrdinal: number; lastRow: number };
    expect(state.lastOrdinal).toBe(partial.rows);
    expect(state.lastRow).toBe(partial.rows + 1);
    expect(partial.resumeAfterRow).toBe(state.lastRow);
    expect(await credits('INT')).toBe(partial.rows);

    const resumed = await runCli(['import', file, '--json'], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.json<Summary>()).toMatchObject({ complete: true, skipped: partial.rows, rows: total - partial.rows, created: total - partial.rows, existing: 0 });
    expect(resumed.stderr).toContain(`resuming ${file} after row ${state.lastRow}`);
    expect(await credits('INT')).toBe(total);
    expect(existsSync(checkpoint)).toBe(false);
  });

  it('--restart ignores a checkpoint and goes through every row again', async () => {
    const file = path.join(dir, 'restart.csv');
    await writeCsv(file, Array.from({ length: 300 }, (_, i) => generatedCredit('RST', i)));
    const first = await runCli(['import', file, '--json'], env);
    expect(first.json<Summary>()).toMatchObject({ created: 300 });
    // As if an earlier run had stopped after 200 rows.
    const { size, mtimeMs } = await stat(file);
    const counts = { created: 200, existing: 0, conflicts: 0, invalid: 0 };
    const checkpoint = { version: 1, file, size, mtimeMs, lastOrdinal: 200, lastRow: 201, counts, updatedAt: new Date().toISOString() };
    await writeFile(`${file}.import-state.json`, JSON.stringify(checkpoint));

    const resumed = await runCli(['import', file, '--json'], env);
    expect(resumed.json<Summary>()).toMatchObject({ skipped: 200, rows: 100, existing: 100, created: 0 });

    await writeFile(`${file}.import-state.json`, JSON.stringify(checkpoint));
    const restarted = await runCli(['import', file, '--json', '--restart'], env);
    expect(restarted.code).toBe(0);
    expect(restarted.json<Summary>()).toMatchObject({ skipped: 0, rows: 300, existing: 300, created: 0 });
  });
});
