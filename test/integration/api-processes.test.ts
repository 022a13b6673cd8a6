import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { nodeArgsFor } from '../helpers/spawn-entry.js';

/*
 * API_PROCESSES: one supervising process and several API processes sharing
 * one port. They serve, and SIGTERM to the supervisor stops them all, each
 * answering what it has in flight, and the supervisor exits 0.
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app?.close();
});

describe('API_PROCESSES=2', () => {
  it('serves from two processes on one port and stops them all on SIGTERM, exiting 0', async () => {
    const supervisor = spawn(process.execPath, nodeArgsFor('api'), {
      cwd: repoRoot,
      env: { ...app.env, PORT: '0', API_PROCESSES: '2', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    supervisor.stdout.on('data', (d: Buffer) => (out += d.toString()));
    supervisor.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const listening = () => [...out.matchAll(/"pid":(\d+)[^\n]*listening on (http:\/\/[^\s"/]+)/g)];
    const deadline = Date.now() + 60_000;
    while (listening().length < 2) {
      if (Date.now() > deadline || supervisor.exitCode !== null) throw new Error(`two API processes did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const [first, second] = listening();
    expect(first?.[1]).not.toBe(second?.[1]);
    expect(first?.[2]).toBe(second?.[2]);
    const url = first?.[2] ?? '';
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${url}/trpc/credits.list?input=${encodeURIComponent('{"limit":1}')}`, { headers: { authorization: `Bearer ${app.env.ADMIN_API_KEY}` } }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));

    const exited = once(supervisor, 'exit');
    supervisor.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code, out).toBe(0);
    expect(out.match(/answering requests in flight/g)).toHaveLength(2);
  });
});
