/**
 * Child processes of the benchmark: Node entry points run the way production
 * runs them (`node --import tsx <entry>`), one-shot commands, free ports, and
 * reading a process's resident memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export type NodeProcess = { name: string; pid: number; logFile: string; stop(): Promise<void>; exited: Promise<void>; alive(): boolean };

const running = new Set<ChildProcess>();
// Whatever happens to the benchmark, its children go with it.
process.once('exit', () => running.forEach((c) => c.kill('SIGKILL')));

/** PG* variables would redirect the PostgreSQL tools, so no child inherits them. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
  return { ...env, ...extra };
}

/** `node --import tsx <entry>` with its output in `logFile`; the pid is the program itself. */
export function spawnNode(name: string, entry: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): NodeProcess {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  return {
    name,
    pid: child.pid ?? -1,
    logFile,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export type RunResult = { code: number; stdout: string; stderr: string; ms: number };

/** Runs a command to its end; `onStart` gets the child (to signal it). Never throws on a non-zero exit. */
export function runCommand(
  file: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; onStart?: (child: ChildProcess) => void } = {},
): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd ?? repoRoot, env: opts.env ?? cleanEnv({}), stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, ms: performance.now() - started });
    });
    opts.onStart?.(child);
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `url` until it answers 200; fails with the process's log if it exits first. */
export async function waitHttp(url: string, proc: NodeProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    if (!proc.alive() || Date.now() > deadline) {
      const log = await readFile(proc.logFile, 'utf8').catch(() => '');
      throw new Error(`${proc.name} did not answer ${url}${proc.alive() ? ' in time' : ' (it exited)'}; its log:\n${log.slice(-3000)}`);
    }
    await sleep(100);
  }
}

/** Resident set size now (VmRSS), in MB; null when the process is gone. */
export async function rssMb(pid: number): Promise<number | null> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kb ? Math.round(Number(kb) / 1024) : null;
}
