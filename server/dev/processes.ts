/**
 * Running commands and server processes: one-shot commands, long-running
 * servers in their own process group, stopping them, and stopping the ones we
 * own when this Node process goes away.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  inherit?: boolean;
  timeoutMs?: number;
  /** Written to the command's stdin (secrets go here, never into arguments other users can read in /proc). */
  input?: string;
}

export function run(file: string, args: string[], opts: RunOptions = {}): Promise<{ stdout: string; stderr: string }> {
  if (opts.inherit) {
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', reject);
      child.on('exit', (code, signal) =>
        code === 0 ? resolve({ stdout: '', stderr: '' }) : reject(new Error(`${file} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`)),
      );
    });
  }
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { env: opts.env, cwd: opts.cwd, uid: opts.uid, gid: opts.gid, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const detail = `${stderr}`.trim() || `${stdout}`.trim() || err.message;
          reject(Object.assign(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${detail}`), { stderr: `${stderr}` }));
        } else {
          resolve({ stdout: `${stdout}`, stderr: `${stderr}` });
        }
      },
    );
    // A command that exits without reading its input must not crash us with EPIPE; its exit code tells.
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
  });
}

export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // PG* variables (PGDATA, PGPORT, PGHOST…) would silently redirect the tools.
    if (!k.startsWith('PG')) env[k] = v;
  }
  // English, stable messages: we match on "already exists" and show logs.
  return { ...env, LC_ALL: 'C', LANG: 'C' };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive but owned by another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Guards against a stale pid file whose pid now belongs to another program (common in containers). */
export async function processName(pid: number): Promise<string | null> {
  return readFile(`/proc/${pid}/comm`, 'utf8').then(
    (s) => s.trim(),
    () => null,
  );
}

/**
 * Children we spawned without `detach`; stopped when this process goes away so
 * test runs never leave servers behind. Stopping is asynchronous for the
 * servers themselves, but they finish on their own after we are gone.
 */
const attached = new Map<number, NodeJS.Signals>();
let exitHooksInstalled = false;

function killAttached(): void {
  for (const [pid, signal] of attached) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
  attached.clear();
}

function trackAttached(pid: number, signal: NodeJS.Signals): void {
  attached.set(pid, signal);
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once('exit', killAttached);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      // Someone else owns shutdown (e.g. the server draining requests before it
      // calls stop()); the 'exit' hook still covers us if they just exit.
      if (process.listenerCount(sig) > 0) return;
      killAttached();
      // Keep the default "die on signal" behaviour.
      process.kill(process.pid, sig);
    });
  }
}

export interface Spawned {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited: () => boolean;
}

export function spawnServer(
  file: string,
  args: string[],
  opts: {
    logFile: string;
    detach: boolean;
    cwd: string;
    uid?: number;
    gid?: number;
    env: NodeJS.ProcessEnv;
    stopSignal: NodeJS.Signals;
    /** Written to the server's stdin, then closed (e.g. `redis-server -` reads configuration there). */
    stdin?: string;
  },
): Spawned {
  const fd = openSync(opts.logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env,
      uid: opts.uid,
      gid: opts.gid,
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', fd, fd],
      // Always its own process group: a terminal Ctrl-C must not kill the
      // database under a server that is still draining; we decide when it stops.
      detached: true,
    });
  } finally {
    closeSync(fd);
  }
  if (opts.stdin !== undefined) {
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.stdin);
  }
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      done = true;
      if (child.pid) attached.delete(child.pid);
      resolve();
    });
    child.once('error', () => {
      done = true;
      resolve();
    });
  });
  // A running server must not keep this process alive by itself; the exit hooks stop attached ones.
  child.unref();
  if (!opts.detach && child.pid) trackAttached(child.pid, opts.stopSignal);
  return { child, exited, hasExited: () => done };
}

/** Waits for a process we did not spawn (reused server) to disappear. */
export async function waitForPidExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Resolves true if `done` settles within `ms`; the timer is cleared so it never holds the process open. */
async function settlesWithin(done: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([done.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function stopWithin(proc: Spawned, timeoutMs: number, escalate: NodeJS.Signals): Promise<void> {
  if (await settlesWithin(proc.exited, timeoutMs)) return;
  proc.child.kill(escalate);
  if (await settlesWithin(proc.exited, 10_000)) return;
  proc.child.kill('SIGKILL');
  await proc.exited;
}
