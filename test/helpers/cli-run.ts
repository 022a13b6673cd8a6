import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { TestApp } from './app.js';
import { nodeArgsFor } from './spawn-entry.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export type CliResult = {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON document (what --json prints). */
  json<T = Record<string, unknown>>(): T;
};

export type RunningCli = {
  proc: ChildProcess;
  stderr(): string;
  stdout(): string;
  done: Promise<CliResult>;
};

/** `npm run admin -- …`, as a real subprocess, the way an operator runs it. */
export function startCli(args: string[], env: NodeJS.ProcessEnv): RunningCli {
  const proc = spawn(process.execPath, [...nodeArgsFor('admin'), ...args], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('close', (code, signal) =>
      resolve({
        code,
        signal,
        stdout,
        stderr,
        json<T>() {
          try {
            return JSON.parse(stdout) as T;
          } catch {
            throw new Error(`stdout is not one JSON document (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
          }
        },
      }),
    );
  });
  return { proc, stdout: () => stdout, stderr: () => stderr, done };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  const running = startCli(args, env);
  const timer = setTimeout(() => running.proc.kill('SIGKILL'), timeoutMs);
  return running.done.finally(() => clearTimeout(timer));
}

/** The environment an operator would set for this app: API, database, Redis, queue prefix. */
export function cliEnv(app: TestApp, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...app.env,
    LEDGER_URL: app.url,
    LEDGER_API_KEY: app.env.ADMIN_API_KEY,
    ...extra,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** The environment with nothing pointing at a ledger: for usage and connection errors. */
export function bareEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['LEDGER_URL', 'LEDGER_API_KEY', 'ADMIN_API_KEY', 'DATABASE_URL', 'MIGRATION_DATABASE_URL', 'REDIS_URL', 'QUEUE_PREFIX']) delete env[k];
  return { ...env, ...extra };
}

export type CsvCredit = { projectName: string; registry: string; vintage: number | string; quantity: string; serialNumber: string };

/** Credit n of a generated set: distinct serials per prefix, names that need CSV quoting now and then. */
export function generatedCredit(prefix: string, n: number): CsvCredit & { vintage: number } {
  return {
    projectName: n % 7 === 0 ? `Forest "North", lot ${n % 50}` : `Wind farm ${n % 91}`,
    registry: n % 2 === 0 ? 'Verra' : 'Gold Standard',
    vintage: 2000 + (n % 20),
    quantity: n % 3 === 0 ? `${(n % 500) + 1}.25` : String((n % 900) + 1),
    serialNumber: `${prefix}-${String(n).padStart(7, '0')}`,
  };
}

const csvCell = (v: string | number): string => {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** Writes rows under the standard header; raw strings are written as they are (for malformed lines). */
export async function writeCsv(file: string, rows: (CsvCredit | string)[], header = 'projectName,registry,vintage,quantity,serialNumber'): Promise<void> {
  const out = createWriteStream(file);
  const write = async (line: string) => {
    if (!out.write(line)) await once(out, 'drain');
  };
  await write(`${header}\n`);
  for (const row of rows) {
    await write(
      typeof row === 'string' ? `${row}\n` : `${[row.projectName, row.registry, row.vintage, row.quantity, row.serialNumber].map(csvCell).join(',')}\n`,
    );
  }
  out.end();
  await once(out, 'finish');
}
