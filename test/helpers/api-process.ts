import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nodeArgsFor } from './spawn-entry.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export type ApiProcess = {
  proc: ChildProcess;
  url: string;
  output(): string;
  /** SIGTERM (or `signal`), and the exit code or signal name once it has gone. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
};

/** `npm run server`'s entry point as its own OS process; resolves once it logged the URL it listens on. */
export async function spawnApi(env: NodeJS.ProcessEnv, timeoutMs = 90_000): Promise<ApiProcess> {
  const proc = spawn(process.execPath, nodeArgsFor('api'), { cwd: repoRoot, env: { ...env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    return exited;
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const url = /listening on (http:\/\/[^\s"/]+)/.exec(out)?.[1];
    if (url) return { proc, url, output: () => out, stop };
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop('SIGKILL');
      throw new Error(`the API did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
