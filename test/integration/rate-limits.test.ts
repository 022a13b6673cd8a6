import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';

/*
 * Calls per API key per window, counted in Redis: one noisy key is slowed
 * down (429 with Retry-After) while another key of the same role is still
 * served; callers without a usable key are counted by address.
 */

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ RATE_LIMIT_AUDITOR: '10', RATE_LIMIT_ANONYMOUS: '5', RATE_LIMIT_WINDOW_SECONDS: '5' });
});

afterAll(async () => {
  await app?.close();
});

const list = (key: string) => fetch(`${app.url}/trpc/credits.list?input=${encodeURIComponent('{"limit":1}')}`, { headers: { authorization: `Bearer ${key}` } });

describe('rate limits', () => {
  it('a noisy key gets 429 with Retry-After past its limit; another key of the same role is still served', async () => {
    const noisy = await app.as('auditor');
    const quiet = await app.as('auditor');
    const answers = await Promise.all(Array.from({ length: 30 }, () => list(noisy.key)));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
    const limited = answers.find((a) => a.status === 429);
    const retryAfter = Number(limited?.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(5);
    expect(await limited?.json()).toMatchObject({
      error: { data: { code: 'TOO_MANY_REQUESTS', httpStatus: 429, retryAfterMs: expect.any(Number) as unknown }, message: expect.stringMatching(/rate limit/) as unknown },
    });

    const quietAnswer = await list(quiet.key);
    expect(quietAnswer.status).toBe(200);
    // Other roles have limits of their own.
    expect((await app.admin.credits.list.query({ limit: 1 })).items).toBeDefined();
  });

  it('callers without a usable key are limited by address', async () => {
    const statuses = await Promise.all(Array.from({ length: 8 }, () => list('ccl_not_a_key').then((r) => r.status)));
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
  });
});
