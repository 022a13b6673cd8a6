import fc from 'fast-check';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../server/auth/roles.js';
import { appRouter } from '../../server/trpc/root.js';
import { ADMIN_KEY, startTestApp, type TestApp } from '../helpers/app.js';
import { openDb } from '../helpers/pg.js';

/*
 * Random and malicious inputs at every procedure, as every role and with no
 * key: the answer is never a 500, and a refused call writes nothing (the
 * credits, events and api_keys row counts are what they were before it).
 */

let app: TestApp;
let db: Pool;
const keys = new Map<Role | 'none', string | null>();
let creditId = '';

beforeAll(async () => {
  app = await startTestApp({ RATE_LIMIT_ISSUER: '100000', RATE_LIMIT_RETIRER: '100000', RATE_LIMIT_AUDITOR: '100000', RATE_LIMIT_ADMIN: '100000', RATE_LIMIT_ANONYMOUS: '100000' });
  db = openDb(app.databaseUrl, 2);
  keys.set('admin', ADMIN_KEY);
  keys.set('none', null);
  for (const role of ['issuer', 'retirer', 'auditor'] as const) keys.set(role, (await app.as(role)).key);
  creditId = (
    await app.admin.credits.create.mutate({ projectName: 'Fuzz Target', registry: 'Verra', vintage: 2020, quantity: '10', serialNumber: 'FUZZ-TARGET' })
  ).credit.id;
});

afterAll(async () => {
  await db?.end();
  await app?.close();
});

async function counts(): Promise<string> {
  const { rows } = await db.query(
    'select (select count(*) from credits) as c, (select count(*) from events) as e, (select count(*) from api_keys) as k, (select count(*) from api_key_audit) as a',
  );
  return JSON.stringify(rows[0]);
}

/** Values that have broken servers before: wrong types, extremes, odd Unicode, SQL, prototype keys, deep nesting. */
const nasty: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.constantFrom(
    null,
    true,
    0,
    -0,
    -1,
    1e308,
    -1e308,
    2 ** 53,
    Number.MIN_VALUE,
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    '\udfff\ud800',
    '\u202eS-1',
    'S-\u200b1',
    'Ｓ-１',
    '😀'.repeat(300),
    "'; drop table events; --",
    '%_\\',
    '__proto__',
    '1e309',
    '-5',
    'NaN',
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
    `cc_${'f'.repeat(64)}`,
    'key_bootstrap_admin',
    { __proto__: { polluted: true } },
    { constructor: { prototype: { polluted: true } } },
    [],
    {},
  ),
  fc.string({ minLength: 1000, maxLength: 5000 }),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.integer({ min: 1, max: 2000 }).map((depth) => {
    let v: unknown = 'deep';
    for (let i = 0; i < depth; i++) v = [v];
    return v;
  }),
);

/** A valid-looking input per procedure, so one nasty field can reach past the first check. */
const base = (): Record<string, Record<string, unknown>> => ({
  'credits.create': { projectName: 'Fuzz', registry: 'Verra', vintage: 2020, quantity: '1', serialNumber: 'FUZZ-1' },
  'credits.createMany': { items: [{ projectName: 'Fuzz', registry: 'Verra', vintage: 2020, quantity: '1', serialNumber: 'FUZZ-2' }] },
  'credits.get': { id: creditId },
  'credits.list': { limit: 5 },
  'credits.stateAt': { id: creditId, at: new Date().toISOString() },
  'credits.retire': { id: creditId, beneficiary: 'Fuzz Co' },
  'credits.retirementStatus': { id: creditId },
  'events.list': { limit: 5 },
  'keys.create': { name: 'fuzz', role: 'auditor' },
  'keys.list': {},
  'keys.revoke': { id: 'key_0000000000000000' },
  'keys.audit': { limit: 5 },
  'credits.split': { id: creditId, quantity: '1', requestId: 'fuzz-split' },
  'credits.cancel': { id: creditId, reason: 'fuzz', quantity: '1', requestId: 'fuzz-cancel' },
  'supply.totals': {},
  'credits.certificate': { id: creditId },
  'checkpoints.latest': {},
  'checkpoints.list': { limit: 5 },
  'checkpoints.proveInclusion': { position: '1' },
  'checkpoints.proveConsistency': { fromSize: 1 },
});

const procedures = Object.entries(appRouter._def.procedures).map(([path, p]) => ({ path, type: (p as unknown as { _def: { type: string } })._def.type }));

async function call(path: string, type: string, input: unknown, key: string | null): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  const body = JSON.stringify(input) ?? 'null';
  const res =
    type === 'query'
      ? await fetch(`${app.url}/trpc/${path}?input=${encodeURIComponent(body)}`, { headers })
      : await fetch(`${app.url}/trpc/${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
  return { status: res.status, text: await res.text() };
}

describe('every procedure, every role, random and malicious input', () => {
  it('covers every procedure of the router', () => {
    expect(procedures.map((p) => p.path).sort()).toEqual(Object.keys(base()).sort());
  });

  for (const { path, type } of procedures) {
    it(`${path}: never 500, and a refusal writes nothing`, async () => {
      const input = fc.oneof(
        nasty,
        fc.record({ field: fc.constantFrom(...Object.keys(base()[path] ?? {}), 'extra'), value: nasty }).map(({ field, value }) => ({ ...base()[path], [field]: value })),
      );
      await fc.assert(
        fc.asyncProperty(input, fc.constantFrom(...keys.keys()), async (value, who) => {
          const before = await counts();
          const answer = await call(path, type, value, keys.get(who) ?? null);
          expect(answer.status, `${path} as ${who} with ${JSON.stringify(value)?.slice(0, 200)}: ${answer.text.slice(0, 300)}`).toBeLessThan(500);
          if (answer.status >= 400) expect(await counts()).toBe(before);
          expect(answer.text).not.toMatch(/\bat [^\s]+ \(|node_modules|\bselect\b[\s\S]*\bfrom\b/i);
        }),
        { numRuns: 100 },
      );
    });
  }
});
