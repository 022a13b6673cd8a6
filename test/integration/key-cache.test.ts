import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { nodeArgsFor } from '../helpers/spawn-entry.js';

/*
 * API keys are resolved from a short cache, not the database on every
 * request; a key revoked through one API process is refused by another
 * process within a second.
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
let app: TestApp;
let second: ChildProcess | null = null;
let secondUrl = '';

beforeAll(async () => {
  app = await startTestApp();
  // A second API process over the same database and Redis, as a real OS process.
  second = spawn(process.execPath, nodeArgsFor('api'), {
    cwd: repoRoot,
    env: { ...app.env, PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  secondUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`second API did not start:\n${out}`)), 30_000);
    second?.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s"/]+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
});

afterAll(async () => {
  second?.kill('SIGTERM');
  await app?.close();
});

const status = async (url: string, key: string) =>
  (await fetch(`${url}/trpc/credits.list?input=${encodeURIComponent('{"limit":1}')}`, { headers: { authorization: `Bearer ${key}` } })).status;

describe('a key revoked through one API process', () => {
  it('is refused by that process at once and by the other within 1 second', async () => {
    const auditor = await app.as('auditor');
    // Both processes have the key in their caches.
    expect(await status(app.url, auditor.key)).toBe(200);
    expect(await status(secondUrl, auditor.key)).toBe(200);

    await app.admin.keys.revoke.mutate({ id: auditor.keyId });
    const revokedAt = Date.now();
    expect(await status(app.url, auditor.key)).toBe(401);
    let refusedAfterMs = -1;
    while (Date.now() - revokedAt < 3000) {
      if ((await status(secondUrl, auditor.key)) === 401) {
        refusedAfterMs = Date.now() - revokedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(refusedAfterMs).toBeGreaterThanOrEqual(0);
    expect(refusedAfterMs).toBeLessThan(1000);
  });
});
