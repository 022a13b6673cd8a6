/**
 * Load from a separate process: wrk with the Lua scripts in ./wrk/ (they
 * report the run as one `WRK_JSON {…}` line, see wrk/common.lua).
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cleanEnv, runCommand } from './processes.js';

export type WrkScript = 'create' | 'paths' | 'retire';

export type WrkRun = {
  connections: number;
  seconds: number;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx answers, timeouts and socket errors. */
  errors: number;
  /** Threads that ran out of IDs before the time was up (retire.lua). */
  exhaustedThreads: number;
};

type WrkJson = {
  requests: number;
  durationUs: number;
  errors: Record<'connect' | 'read' | 'write' | 'status' | 'timeout', number>;
  latencyUs: { p50: number; p99: number };
  exhaustedThreads: number;
};

export const wrkThreads = (connections: number) => Math.min(2, connections);

export async function wrk(opts: {
  script: WrkScript;
  url: string;
  key: string;
  connections: number;
  seconds: number;
  args?: string[];
  /** Gets the running wrk, e.g. to end it early with SIGINT (wrk then reports what it did). */
  onStart?: (child: ChildProcess) => void;
}): Promise<WrkRun> {
  const script = fileURLToPath(new URL(`wrk/${opts.script}.lua`, import.meta.url));
  const args = [
    `-t${wrkThreads(opts.connections)}`,
    `-c${opts.connections}`,
    `-d${opts.seconds}s`,
    '--timeout', '10s',
    '-H', `Authorization: Bearer ${opts.key}`,
    '-H', 'Content-Type: application/json',
    '-s', script,
    opts.url,
    '--',
    ...(opts.args ?? []),
  ];
  const res = await runCommand('wrk', args, { env: cleanEnv({}), ...(opts.onStart ? { onStart: opts.onStart } : {}) });
  const line = /^WRK_JSON (.*)$/m.exec(res.stdout)?.[1];
  if (res.code !== 0 || !line) throw new Error(`wrk ${opts.script}.lua failed (exit ${res.code}):\n${res.stdout}\n${res.stderr}`);
  const j = JSON.parse(line) as WrkJson;
  const seconds = j.durationUs / 1e6;
  return {
    connections: opts.connections,
    seconds,
    requests: j.requests,
    rps: j.requests / seconds,
    p50Ms: j.latencyUs.p50 / 1000,
    p99Ms: j.latencyUs.p99 / 1000,
    errors: j.errors.connect + j.errors.read + j.errors.write + j.errors.status + j.errors.timeout,
    exhaustedThreads: j.exhaustedThreads,
  };
}
