import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nodeArgsFor } from './spawn-entry.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export type WorkerProcess = {
  proc: ChildProcess;
  /** Resolves with the exit code (or the signal name) once the process has gone. */
  exited: Promise<number | string>;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
};

/** Every worker spawned by this test file that has not exited yet. */
const live = new Set<WorkerProcess>();

/** A real worker, `npm run worker`'s entry point, as a separate OS process. */
export function spawnWorker(env: NodeJS.ProcessEnv, extra: Record<string, string> = {}): WorkerProcess {
  const proc = spawn(process.execPath, nodeArgsFor('worker'), {
    cwd: repoRoot,
    env: { ...env, LOG_LEVEL: 'info', ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const worker: WorkerProcess = {
    proc,
    exited,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
  live.add(worker);
  void exited.then(() => live.delete(worker));
  return worker;
}

/** SIGKILLs every worker this test file spawned that is still running, and waits until they are gone. For afterAll. */
export async function killAllWorkers(): Promise<void> {
  await Promise.all([...live].map((w) => w.stop('SIGKILL')));
}

/** Waits until the worker logged that it started, so tests do not race its start-up. */
export async function waitForOutput(w: WorkerProcess, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(w.output())) {
    if (Date.now() > deadline) throw new Error(`worker never printed ${pattern}; output:\n${w.output()}`);
    if (w.proc.exitCode !== null) throw new Error(`worker exited early:\n${w.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
