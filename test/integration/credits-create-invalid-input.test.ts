import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectionOf } from '../helpers/api-errors.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { tableCounts } from '../helpers/credit-db-probes.js';
import { uniqueSerial, validCredit } from '../helpers/credit-fixtures.js';
import { openDb } from '../helpers/pg.js';

/*
 * Invalid credits.create and credits.createMany input against the real API and
 * database: refused with BAD_REQUEST naming the offending field (createMany:
 * outcome invalid per item), leaving both tables untouched.
 */

let app: TestApp;
let db: Pool;

beforeAll(async () => {
  app = await startTestApp();
  db = openDb(app.databaseUrl, 4);
});

afterAll(async () => {
  await db?.end();
  await app?.close();
});

describe('invalid input is refused with the field named, and nothing is stored', () => {
  const nextYear = new Date().getUTCFullYear() + 1;
  const base = () => validCredit(uniqueSerial('VCS-Invalid'));
  const withField = (field: string, value: unknown) => ({ ...base(), [field]: value });
  const without = (field: string) => {
    const input: Record<string, unknown> = base();
    delete input[field];
    return input;
  };

  it.each<[string, string, () => unknown]>([
    ['empty projectName', 'projectName', () => withField('projectName', '')],
    ['whitespace-only projectName', 'projectName', () => withField('projectName', ' \t  ')],
    ['projectName with a control character', 'projectName', () => withField('projectName', 'Kasigau\u0007Corridor')],
    ['projectName with a newline inside', 'projectName', () => withField('projectName', 'Kasigau\nCorridor')],
    ['serialNumber with a NUL character', 'serialNumber', () => withField('serialNumber', 'VCS\u0000-1')],
    ['serialNumber with a zero-width space', 'serialNumber', () => withField('serialNumber', `${base().serialNumber}\u200b`)],
    ['serialNumber with a right-to-left override', 'serialNumber', () => withField('serialNumber', `\u202e${base().serialNumber}`)],
    ['serialNumber with a Unicode hyphen', 'serialNumber', () => withField('serialNumber', base().serialNumber.replace('-', '\u2010'))],
    ['registry with a zero-width space', 'registry', () => withField('registry', 'Ver\u200bra')],
    ['projectName with a zero-width joiner', 'projectName', () => withField('projectName', 'Kasigau\u200dCorridor')],
    ['empty registry', 'registry', () => withField('registry', '')],
    ['projectName of 201 characters', 'projectName', () => withField('projectName', 'p'.repeat(201))],
    ['registry of 101 characters', 'registry', () => withField('registry', 'r'.repeat(101))],
    ['serialNumber of 201 characters', 'serialNumber', () => withField('serialNumber', 's'.repeat(201))],
    ['vintage 1989', 'vintage', () => withField('vintage', 1989)],
    [`vintage next year (${nextYear})`, 'vintage', () => withField('vintage', nextYear)],
    ['fractional vintage', 'vintage', () => withField('vintage', 2020.5)],
    ['vintage as a string', 'vintage', () => withField('vintage', '2020')],
    ['quantity 0', 'quantity', () => withField('quantity', 0)],
    ['quantity "0.000"', 'quantity', () => withField('quantity', '0.000')],
    ['quantity -1', 'quantity', () => withField('quantity', -1)],
    ['quantity "-1"', 'quantity', () => withField('quantity', '-1')],
    ['quantity 1.1234567 (7 decimals)', 'quantity', () => withField('quantity', 1.1234567)],
    ['quantity "1.1234567"', 'quantity', () => withField('quantity', '1.1234567')],
    ['quantity 1e13', 'quantity', () => withField('quantity', 1e13)],
    ['quantity "1e13"', 'quantity', () => withField('quantity', '1e13')],
    ['quantity "abc"', 'quantity', () => withField('quantity', 'abc')],
    ['quantity true', 'quantity', () => withField('quantity', true)],
    ['quantity null', 'quantity', () => withField('quantity', null)],
    ['projectName as a number', 'projectName', () => withField('projectName', 42)],
    ['registry as an object', 'registry', () => withField('registry', { name: 'Verra' })],
    ['serialNumber as an array', 'serialNumber', () => withField('serialNumber', ['VCS-1'])],
    ['missing serialNumber', 'serialNumber', () => without('serialNumber')],
    ['missing vintage', 'vintage', () => without('vintage')],
  ])('%s → BAD_REQUEST naming %s', async (_name, path, input) => {
    const before = await tableCounts(db);
    const err = await rejectionOf(app.admin.credits.create.mutate(input() as never));

    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.data?.httpStatus).toBe(400);
    const issues = err.data?.issues ?? [];
    expect(issues.map((i) => i.path)).toContain(path);
    for (const issue of issues.filter((i) => i.path === path)) expect(issue.message).toMatch(new RegExp(`^${path}\\b`));
    expect(await tableCounts(db)).toEqual(before);
  });

  it('unknown extra keys → BAD_REQUEST whose issue names the unknown key (on the input as a whole); nothing stored', async () => {
    const before = await tableCounts(db);
    const err = await rejectionOf(app.admin.credits.create.mutate({ ...base(), owner: 'someone', tons: 5 } as never));

    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.data?.issues).toEqual([{ path: '(input)', message: expect.stringMatching(/unknown field\(s\): owner, tons/) as unknown }]);
    expect(await tableCounts(db)).toEqual(before);
  });

  it('an input that is not an object → BAD_REQUEST; nothing stored', async () => {
    const before = await tableCounts(db);
    for (const input of ['Kasigau', 42, null, [validCredit()]]) {
      const err = await rejectionOf(app.admin.credits.create.mutate(input as never));
      expect(err.data?.code).toBe('BAD_REQUEST');
      expect(err.data?.issues?.length).toBeGreaterThan(0);
    }
    expect(await tableCounts(db)).toEqual(before);
  });

  it('several bad fields at once are all reported', async () => {
    const err = await rejectionOf(
      app.admin.credits.create.mutate({ ...base(), projectName: '', vintage: 1989, quantity: 'abc' }),
    );
    expect(err.data?.issues?.map((i) => i.path).sort()).toEqual(['projectName', 'quantity', 'vintage']);
  });

  it('createMany: an invalid item is answered invalid with its issues, valid items are created, nothing is stored for the bad one', async () => {
    const good = base();
    const before = await tableCounts(db);
    const { results } = await app.admin.credits.createMany.mutate({
      items: [{ ...base(), vintage: 1989 }, good, 'not a credit', { ...base(), quantity: 0 }],
    });

    expect(results.map((r) => r.outcome)).toEqual(['invalid', 'created', 'invalid', 'invalid']);
    expect(results[0]).toMatchObject({ index: 0, issues: [{ path: 'vintage' }] });
    expect(results[3]).toMatchObject({ index: 3, issues: [{ path: 'quantity' }] });
    expect(await tableCounts(db)).toEqual({ credits: before.credits + 1, events: before.events + 1 });
  });

  it.each([
    ['no items', []],
    ['1001 items', Array.from({ length: 1001 }, () => validCredit('VCS-too-many'))],
  ])('createMany with %s → BAD_REQUEST naming items; nothing stored', async (_name, items) => {
    const before = await tableCounts(db);
    const err = await rejectionOf(app.admin.credits.createMany.mutate({ items }));
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.data?.issues?.map((i) => i.path)).toEqual(['items']);
    expect(await tableCounts(db)).toEqual(before);
  });
});
