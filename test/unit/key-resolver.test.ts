import { describe, expect, it } from 'vitest';
import { hashKey, KeyResolver } from '../../server/auth/api-keys.js';
import type { Actor } from '../../server/auth/roles.js';

/*
 * The API key cache on its own: the lookup behind it (the database in the
 * API) is a counting function here, so what is asked and when is visible.
 */

function counting(answer: (token: string) => Actor | null) {
  const calls: string[] = [];
  return { calls, lookup: (token: string) => (calls.push(token), Promise.resolve(answer(token))) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('KeyResolver', () => {
  it('asks once per token per window, however many requests come', async () => {
    const { calls, lookup } = counting(() => ({ keyId: 'key_a', role: 'auditor' }));
    const keys = new KeyResolver(lookup, 10_000);
    const answers = await Promise.all(Array.from({ length: 50 }, () => keys.resolve('token-a')));
    expect(answers.every((a) => a?.keyId === 'key_a')).toBe(true);
    expect(calls).toEqual(['token-a']);
  });

  it('remembers unknown tokens too, and each token separately', async () => {
    const { calls, lookup } = counting((t) => (t === 'good' ? { keyId: 'key_g', role: 'admin' } : null));
    const keys = new KeyResolver(lookup, 10_000);
    expect(await keys.resolve('bad')).toBeNull();
    expect(await keys.resolve('bad')).toBeNull();
    expect(await keys.resolve('good')).toEqual({ keyId: 'key_g', role: 'admin' });
    expect(calls).toEqual(['bad', 'good']);
  });

  it('asks again once the window has passed: a revocation elsewhere is seen within it', async () => {
    let revoked = false;
    const { calls, lookup } = counting(() => (revoked ? null : { keyId: 'key_r', role: 'retirer' }));
    const keys = new KeyResolver(lookup, 100);
    expect(await keys.resolve('t')).not.toBeNull();
    revoked = true;
    await sleep(150);
    expect(await keys.resolve('t')).toBeNull();
    expect(calls).toHaveLength(2);
  });

  it('forgets a key at once when told it was revoked here', async () => {
    let revoked = false;
    const { lookup } = counting(() => (revoked ? null : { keyId: 'key_f', role: 'issuer' }));
    const keys = new KeyResolver(lookup, 60_000);
    expect(await keys.resolve('tok')).not.toBeNull();
    revoked = true;
    keys.forget(hashKey('tok'));
    expect(await keys.resolve('tok')).toBeNull();
  });
});
