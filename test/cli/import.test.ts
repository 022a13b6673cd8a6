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
