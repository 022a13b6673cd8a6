import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestApp, type TestApp } from '../helpers/app.js';
import { openDb } from '../helpers/pg.js';

/*
 * The HTTP edge, spoken to with plain fetch: body size limit, malformed JSON,
 * and error bodies that are JSON and never leak stack traces or SQL.
 */

type ErrorBody = { error: { message: string; code: number; data: { code: string; httpStatus: number; path?: string; issues?: { path: string }[] } } };
type Answer = { status: number; contentType: string; text: string };

let app: TestApp;
let db: Pool;

beforeAll(async () => {
  app = await startTestApp();
  db = openDb(app.databaseUrl, 2);
});

afterAll(async () => {
  await db?.end();
  await app?.close();
});

const AUTH = { authorization: `Bearer ${ADMIN_KEY}` };
const JSON_TYPE = { 'content-type': 'application/json' };

async function send(path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${app.url}${path}`, init);
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
}

const post = (path: string, body: string, headers: Record<string, string> = { ...AUTH, ...JSON_TYPE }) =>
  send(`/trpc/${path}`, { method: 'POST', headers, body });
const get = (path: string, input?: unknown, headers: Record<string, string> = AUTH) =>
  send(`/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`, { headers });

async function tableCounts() {
  const { rows } = await db.query<{ credits: string; events: string }>(
    'select (select count(*) from credits) as credits, (select count(*) from events) as events',
  );
  return rows[0];
}

/** Parses an error answer, checking it is JSON in the tRPC error shape with a matching status. */
function errorBody(answer: Answer): ErrorBody {
  expect(answer.contentType).toMatch(/^application\/json/);
  const body = JSON.parse(answer.text) as ErrorBody;
  expect(body.error.data.httpStatus).toBe(answer.status);
  expect(typeof body.error.message).toBe('string');
  return body;
}

/** Nothing a caller should see of the server's insides: stack frames, file paths, SQL, driver messages. */
function expectNoLeaks(answer: Answer) {
  const text = answer.text;
  expect(text).not.toMatch(/"stack"/);
  expect(text).not.toMatch(/\bat [^\s]+ \(|\bat (file:|node:|\/)/); // stack frames
  expect(text).not.toMatch(/\.(ts|js|mjs):\d+/);
  expect(text).not.toMatch(/node_modules/);
  expect(text).not.toMatch(/\bselect\b[\s\S]*\bfrom\b/i);
  expect(text).not.toMatch(/\binsert into\b/i);
  expect(text).not.toMatch(/\bupdate\b[\s\S]*\bset\b/i);
  expect(text).not.toMatch(/relation "|violates|constraint|syntax error|DriverException|QueryFailedError/i);
}

const valid = { projectName: 'Edge Project', registry: 'Verra', vintage: 2021, quantity: '1', serialNumber: 'EDGE-1' };

describe('request body limits', () => {
  it('a body over 1 MB → 413 with a JSON error, and nothing is stored', async () => {
    const before = await tableCounts();
    const body = JSON.stringify({ ...valid, projectName: 'x'.repeat(1024 * 1024 + 10) });
    const answer = await post('credits.create', body);

    expect(answer.status).toBe(413);
    const err = errorBody(answer);
    expect(err.error.data.code).toBe('PAYLOAD_TOO_LARGE');
    expectNoLeaks(answer);
    expect(await tableCounts()).toEqual(before);
  });

  it('a batch whose body is over 1 MB → 413 as well', async () => {
    const items = Array.from({ length: 1000 }, (_, i) => ({ ...valid, projectName: 'p'.repeat(1100), serialNumber: `EDGE-BATCH-${i}` }));
    const answer = await post('credits.createMany', JSON.stringify({ items }));
    expect(answer.status).toBe(413);
    expect(errorBody(answer).error.data.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('a body just under 1 MB is parsed, and refused by validation naming the field', async () => {
    const before = await tableCounts();
    const body = JSON.stringify({ ...valid, projectName: 'x'.repeat(1000 * 1000) });
    expect(Buffer.byteLength(body)).toBeLessThan(1024 * 1024);
    const answer = await post('credits.create', body);

    expect(answer.status).toBe(400);
    const err = errorBody(answer);
    expect(err.error.data.code).toBe('BAD_REQUEST');
    expect(err.error.data.issues?.map((i) => i.path)).toEqual(['projectName']);
    expect(answer.text.length).toBeLessThan(2000); // the oversized value is not echoed back
    expect(await tableCounts()).toEqual(before);
  });
});

describe('malformed requests', () => {
  it.each([
    ['truncated JSON', '{"projectName": "Edge'],
    ['not JSON at all', 'projectName=Edge'],
    ['a trailing comma', '{"projectName": "Edge",}'],
  ])('%s → 400 with a JSON error body; nothing stored', async (_name, body) => {
    const before = await tableCounts();
    const answer = await post('credits.create', body);
    expect(answer.status).toBe(400);
    const err = errorBody(answer);
    expect(err.error.data.code).toBe('PARSE_ERROR');
    expect(err.error.message).toBe('request body is not valid JSON');
    expectNoLeaks(answer);
    expect(await tableCounts()).toEqual(before);
  });

  it('a well-formed request with a valid body is accepted over plain HTTP', async () => {
    const answer = await post('credits.create', JSON.stringify(valid));
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ result: { data: { created: true, credit: { serialNumber: 'EDGE-1' } } } });
  });
});

describe('an internal failure', () => {
  it('answers 500 with a generic JSON message, no SQL, no driver message, no stack', async () => {
    // An honest database failure: the table the query needs is gone for a moment.
    await db.query('alter table credits rename to credits_moved_away');
    let answer: Answer;
    try {
      answer = await get('credits.list', { limit: 5 });
    } finally {
      await db.query('alter table credits_moved_away rename to credits');
    }

    expect(answer.status).toBe(500);
    const err = errorBody(answer);
    expect(err.error.message).toBe('Internal server error');
    expect(err.error.data).toEqual({ code: 'INTERNAL_SERVER_ERROR', httpStatus: 500, path: 'credits.list' });
    expect(answer.text).not.toContain('credits_moved_away');
    expect(answer.text).not.toContain('project_name');
    expectNoLeaks(answer);

    // The server recovers once the database does.
    expect((await get('credits.list', { limit: 5 })).status).toBe(200);
  });
});

describe('every kind of error answer is JSON and leaks nothing', () => {
  it.each<[string, () => Promise<Answer>, number, string]>([
    ['no key', () => get('credits.list', {}, {}), 401, 'UNAUTHORIZED'],
    ['an unknown key', () => get('credits.list', {}, { authorization: 'Bearer ccl_unknown' }), 401, 'UNAUTHORIZED'],
    ['a role without the right', async () => {
      const { key } = await app.as('issuer');
      return get('credits.list', {}, { authorization: `Bearer ${key}` });
    }, 403, 'FORBIDDEN'],
    ['invalid input', () => post('credits.create', JSON.stringify({ ...valid, vintage: 1989 })), 400, 'BAD_REQUEST'],
    ['an unknown credit', () => get('credits.get', { id: `cc_${'0'.repeat(64)}` }), 404, 'NOT_FOUND'],
    ['an unknown procedure', () => get('credits.drop', {}), 404, 'NOT_FOUND'],
    ['a query sent as a mutation', () => post('credits.list', '{}'), 405, 'METHOD_NOT_SUPPORTED'],
    ['a registry serial conflict', async () => {
      await post('credits.create', JSON.stringify({ ...valid, serialNumber: 'EDGE-CONFLICT' }));
      return post('credits.create', JSON.stringify({ ...valid, serialNumber: 'EDGE-CONFLICT', projectName: 'Other' }));
    }, 409, 'CONFLICT'],
    ['retiring an unknown credit', () => post('credits.retire', JSON.stringify({ id: `cc_${'1'.repeat(64)}`, beneficiary: 'x' })), 404, 'NOT_FOUND'],
  ])('%s → %i %s', async (_name, request, status, code) => {
    const answer = await request();
    expect(answer.status).toBe(status);
    expect(errorBody(answer).error.data.code).toBe(code);
    expectNoLeaks(answer);
  });
});
