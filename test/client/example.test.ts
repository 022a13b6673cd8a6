import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { killAllWorkers, spawnWorker, waitForOutput, type WorkerProcess } from '../helpers/worker-process.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLE = 'client/examples/create-retire-history.ts';

type Run = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

/** Runs the example as its own Node process, the way its header says to. */
function runExample(env: Record<string, string>, timeoutMs = 60_000): Promise<Run> {
  // Only what Node needs, plus the example's own settings: nothing of the test's database or Redis leaks in.
  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  const proc = spawn(process.execPath, ['--import', 'tsx', EXAMPLE], { cwd: repoRoot, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('example: create, retire and wait, print history', () => {
  let app: TestApp;
  let worker: WorkerProcess;
  beforeAll(async () => {
    app = await startTestApp();
    worker = spawnWorker(app.env);
    await waitForOutput(worker, /retirement worker started/);
  });
  afterAll(async () => {
    await worker?.stop();
    await killAllWorkers();
    await app?.close();
  });

  it('exits 0 and prints the created, retirement_requested and retired events', async () => {
    const { key } = await app.as('admin');
    const run = await runExample({ LEDGER_URL: app.url, LEDGER_API_KEY: key, LEDGER_TIMEOUT_MS: '30000' });
    expect(run, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}\nworker:\n${worker.output()}`).toMatchObject({ code: 0, signal: null, stderr: '' });

    const id = /^created credit (cc_[0-9a-f]{64}):/m.exec(run.stdout)?.[1];
    expect(id, run.stdout).toBeDefined();
    expect(run.stdout).toMatch(/^retired at \d{4}-\d{2}-\d{2}T/m);

    // The history lines, in order, one per event.
    const at = run.stdout.indexOf(`history of ${id} (3 events):`);
    expect(at, run.stdout).toBeGreaterThanOrEqual(0);
    const history = run.stdout.slice(at);
    const types = [...history.matchAll(/^ {2}v(\d+) +\S+ +(\w+) /gm)].map((m) => [Number(m[1]), m[2]]);
    expect(types).toEqual([
      [1, 'created'],
      [2, 'retirement_requested'],
      [3, 'retired'],
    ]);
    expect(history).toMatch(/retirement_requested .*beneficiary=Example Co\./);

    // What it printed is what the ledger holds.
    const stored = await app.admin.credits.get.query({ id: id ?? '' });
    expect(stored.credit.status).toBe('retired');
    expect(stored.events.map((e) => e.type)).toEqual(['created', 'retirement_requested', 'retired']);
  });

  it('exits 1 and says why when the ledger refuses the key', async () => {
    const run = await runExample({ LEDGER_URL: app.url, LEDGER_API_KEY: 'bogus-key' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('failed (UNAUTHORIZED): API key is unknown or revoked');
  });

  it('exits 2 when not configured', async () => {
    const run = await runExample({});
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('LEDGER_URL');
  });
});
