/**
 * The database's own limit: pgbench running the ledger's transactions
 * (./pgbench/*.sql) straight against the same PostgreSQL, on scratch copies of
 * its tables, over TCP with the extended query protocol (as node-postgres
 * sends them).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { findPgBinDir } from '../../server/dev/binaries.js';
import { cleanEnv, runCommand } from './processes.js';

export type PgbenchScript = 'create' | 'retire' | 'get' | 'list';
export type PgbenchRun = { clients: number; seconds: number; tps: number; latencyMs: number; transactions: number; failed: number };

const file = (name: string) => fileURLToPath(new URL(`pgbench/${name}.sql`, import.meta.url));

/** Creates and fills bench_credits / bench_events with `rows` credits. */
export async function setupPgbench(db: pg.Client, rows: number): Promise<void> {
  const sql = (await readFile(file('setup'), 'utf8')).replaceAll('__ROWS__', String(Math.trunc(rows)));
  await db.query(sql);
  await db.query('vacuum analyze bench_credits, bench_events');
}

export async function dropPgbench(db: pg.Client): Promise<void> {
  await db.query('drop table if exists bench_events, bench_credits');
}

export async function pgbench(opts: { script: PgbenchScript; clients: number; seconds: number; databaseUrl: string; rows: number }): Promise<PgbenchRun> {
  const bin = await findPgBinDir();
  if (!bin) throw new Error('PostgreSQL binaries (pgbench) not found');
  const url = new URL(opts.databaseUrl);
  const args = [
    '-h', url.hostname, '-p', url.port, '-U', decodeURIComponent(url.username), '-d', url.pathname.slice(1),
    '-n', '-M', 'extended',
    '-c', String(opts.clients), '-j', String(Math.min(2, opts.clients)),
    '-T', String(opts.seconds),
    '-D', `rows=${opts.rows}`,
    '-f', file(opts.script),
  ];
  // The password through the environment, never on the command line.
  const res = await runCommand(`${bin}/pgbench`, args, { env: cleanEnv({ PGPASSWORD: decodeURIComponent(url.password) }) });
  const num = (re: RegExp) => Number(re.exec(res.stdout)?.[1] ?? NaN);
  const tps = num(/^tps = ([\d.]+)/m);
  if (res.code !== 0 || Number.isNaN(tps)) throw new Error(`pgbench ${opts.script}.sql failed (exit ${res.code}):\n${res.stdout}\n${res.stderr}`);
  return {
    clients: opts.clients,
    seconds: opts.seconds,
    tps,
    latencyMs: num(/^latency average = ([\d.]+) ms/m),
    transactions: num(/^number of transactions actually processed: (\d+)/m),
    failed: num(/^number of failed transactions: (\d+)/m) || 0,
  };
}
