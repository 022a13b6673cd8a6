import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, serveTestApp, startTestApp, type TestApp } from '../helpers/app.js';
import { holdCreditRows } from '../helpers/credit-db-probes.js';
import { openDb } from '../helpers/pg.js';

/*
 * The REST facade spoken to as the original service's clients speak to it:
 * plain fetch, snake_case JSON, `{"detail": "..."}` errors. No worker runs
 * here and REST_RETIRE_WAIT_MS is 0, so every retirement answers 202 and
 * stays pending; test/e2e/rest-retire.test.ts runs a worker.
 */

type Answer = { status: number; headers: Headers; body: unknown };
type RecordBody = { id: string; status: string; created_at: string; events: { event_type: string; payload: Record<string, unknown> }[] } & Record<string, unknown>;

let app: TestApp;
let keys: Record<'issuer' | 'retirer' | 'auditor', string>;

beforeAll(async () => {
  app = await startTestApp({ REST_RETIRE_WAIT_MS: '0' });
  keys = { issuer: (await app.as('issuer')).key, retirer: (await app.as('retirer')).key, auditor: (await app.as('auditor')).key };
});

afterAll(async () => {
  await app?.close();
});

async function call(method: string, path: string, { key = ADMIN_KEY, body, headers = {} }: { key?: string | null; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** An error answer: its status, and a body that is exactly `{detail}` with a sentence and no stack or SQL. */
function detailOf(answer: Answer, status: number): string {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(Object.keys(answer.body as object)).toEqual(['detail']);
  const { detail } = answer.body as { detail: string };
  expect(detail).not.toMatch(/\n\s+at |select |insert |update |\.ts:\d|zod/i);
  return detail;
}

/** The original service's create body, with a serial of its own. */
const original = (overrides: Record<string, unknown> = {}) => ({
  project_name: 'Kasigau Corridor REDD+',
  registry: 'Verra',
  vintage: 2021,
  quantity: 100,
  serial_number: `VCS-REST-${randomUUID()}`,
  ...overrides,
});

async function created(fields: Record<string, unknown> = original(), key: string = ADMIN_KEY): Promise<RecordBody> {
  const answer = await call('POST', '/api/records/', { key, body: fields });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body as RecordBody;
}

describe('POST /api/records/', () => {
  it("answers the record in the original's shape, with its created event and the ledger's own fields", async () => {
    const fields = original();
    const record = await created(fields, keys.issuer);
    expect(record).toEqual({
      id: expect.stringMatching(/^cc_[0-9a-f]{64}$/) as string,
      project_name: fields.project_name,
      registry: 'Verra',
      vintage: 2021,
      quantity: '100',
      serial_number: fields.serial_number,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
      status: 'active',
      retired_at: null,
      version: 1,
      unit_range: null,
      parent_id: null,
      events: [
        {
          event_type: 'created',
          payload: { projectName: fields.project_name, registry: 'Verra', vintage: 2021, quantity: '100', serialNumber: fields.serial_number },
          created_at: record.created_at,
          version: 1,
          actor: expect.stringMatching(/^key_/) as string,
        },
      ],
    });
  });

  it('answers the same record when the same body is sent again, without a second one (also without the trailing slash)', async () => {
    const fields = original({ registry: `Idem-${randomUUID().slice(0, 8)}` });
    const first = await created(fields);
    const again = await call('POST', '/api/records', { body: fields });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first);
    const listed = await call('GET', `/api/records/?registry=${fields.registry}`);
    expect((listed.body as RecordBody[]).map((r) => r.id)).toEqual([first.id]);
  });

  it('refuses a serial held by another record with 409 naming that record', async () => {
    const first = await created();
    const clash = await call('POST', '/api/records/', { body: { ...original(), serial_number: first.serial_number, quantity: 7 } });
    expect(detailOf(clash, 409)).toContain(first.id);
  });

  it('refuses invalid fields with 400 naming each one, in snake_case, and unknown fields by name', async () => {
    const answer = await call('POST', '/api/records/', { body: { project_name: '', vintage: '2021', quantity: -1, colour: 'green' } });
    const detail = detailOf(answer, 400);
    for (const field of ['project_name', 'registry', 'vintage', 'quantity', 'serial_number', 'colour']) expect(detail).toContain(field);
    expect(detail).not.toMatch(/projectName|serialNumber/);
  });

  it('refuses a body that is not JSON (400, 415) or too large (413)', async () => {
    expect(detailOf(await call('POST', '/api/records/', { body: '{"project_name":' }), 400)).toMatch(/not valid JSON/);
    expect(detailOf(await call('POST', '/api/records/', { body: 'x', headers: { 'content-type': 'text/plain' } }), 415)).toMatch(/Content-Type: application\/json/);
    const huge = await call('POST', '/api/records/', { body: original({ project_name: 'x'.repeat(2 * 1024 * 1024) }) });
    expect(detailOf(huge, 413)).toMatch(/bytes/);
  });

  it('answers 401 without a usable key (with WWW-Authenticate) and 403 to a key whose role may not create', async () => {
    const missing = await call('POST', '/api/records/', { key: null, body: original() });
    expect(detailOf(missing, 401)).toMatch(/API key/);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(detailOf(await call('POST', '/api/records/', { key: 'ccl_not-a-real-key-at-all-0000000000', body: original() }), 401)).toMatch(/key/);
    expect(detailOf(await call('POST', '/api/records/', { key: keys.auditor, body: original() }), 403)).toMatch(/auditor/);
  });
});

describe('GET /api/records/ and /api/records/{id}', () => {
  it('pages by key set through the Link header, keeping the filters, oldest first', async () => {
    const registry = `Pages-${randomUUID().slice(0, 8)}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await created(original({ registry }))).id);

    const seen: string[] = [];
    let next: string | null = `/api/records/?registry=${registry}&limit=2`;
    let pages = 0;
    while (next) {
      const page = await call('GET', next, { key: keys.auditor });
      expect(page.status).toBe(200);
      const items = page.body as RecordBody[];
      expect(items.length).toBeLessThanOrEqual(2);
      seen.push(...items.map((r) => r.id));
      const link = page.headers.get('link');
      next = link ? (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? null) : null;
      if (next) expect(next).toContain(`registry=${registry}`);
      pages += 1;
    }
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);
  });

  it("takes credits.list's filters: vintage, status, project name (contains) and registry", async () => {
    const registry = `Filters-${randomUUID().slice(0, 8)}`;
    const old = await created(original({ registry, vintage: 2015, project_name: 'Mangrove Restoration Gazi Bay' }));
    const recent = await created(original({ registry, vintage: 2022, project_name: 'Cookstoves Ghana' }));
    expect(await call('POST', `/api/records/${recent.id}/retire`, { body: {} })).toMatchObject({ status: 202 });

    const ids = async (query: string) => ((await call('GET', `/api/records/?registry=${registry}&${query}`)).body as RecordBody[]).map((r) => r.id);
    expect(await ids('vintage=2015')).toEqual([old.id]);
    expect(await ids('project_name=gazi')).toEqual([old.id]);
    expect(await ids('status=active')).toEqual([old.id, recent.id]);
    expect(await ids('status=retired')).toEqual([]);
  });

  it('refuses a bad filter or cursor with 400 naming it', async () => {
    expect(detailOf(await call('GET', '/api/records/?limit=abc'), 400)).toBe('limit must be a whole number');
    expect(detailOf(await call('GET', '/api/records/?limit=501'), 400)).toMatch(/^limit/);
    expect(detailOf(await call('GET', '/api/records/?vintage=1900'), 400)).toMatch(/^vintage/);
    expect(detailOf(await call('GET', '/api/records/?status=lost'), 400)).toMatch(/^status/);
    expect(detailOf(await call('GET', '/api/records/?cursor=nonsense'), 400)).toMatch(/cursor/);
  });

  it('answers one record with its events, 404 for an unknown ID, 400 for a malformed one, 403 to an issuer', async () => {
    const record = await created();
    const got = await call('GET', `/api/records/${record.id}`, { key: keys.auditor });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(record);
    const unknown = `cc_${'a'.repeat(64)}`;
    expect(detailOf(await call('GET', `/api/records/${unknown}`), 404)).toBe(`credit ${unknown} not found`);
    expect(detailOf(await call('GET', '/api/records/42'), 400)).toMatch(/^id must be "cc_"/);
    expect(detailOf(await call('GET', `/api/records/${record.id}`, { key: keys.issuer }), 403)).toMatch(/issuer/);
  });
});

describe('POST /api/records/{id}/retire', () => {
  it("without a body (as the original's clients send it): 202, Location to the status, Retry-After, and the calling key's name as beneficiary", async () => {
    const record = await created();
    const answer = await call('POST', `/api/records/${record.id}/retire`, { key: keys.retirer, headers: { 'content-length': '0' } });
    expect(answer.status).toBe(202);
    expect(answer.headers.get('location')).toBe(`/api/records/${record.id}/retirement`);
    expect(answer.headers.get('retry-after')).toBe('1');
    expect(answer.body).toEqual({ status: 'queued', attempts: 0 });

    const status = await call('GET', `/api/records/${record.id}/retirement`, { key: keys.retirer });
    expect(status.status).toBe(200);
    expect(status.headers.get('retry-after')).toBe('1');
    expect(status.body).toEqual({ status: 'queued', attempts: 0 });

    const events = ((await call('GET', `/api/records/${record.id}`)).body as RecordBody).events;
    expect(events.map((e) => e.event_type)).toEqual(['created', 'retirement_requested']);
    expect(events[1]?.payload).toEqual({ beneficiary: 'test retirer', reason: null });
  });

  it('takes an optional {beneficiary, reason}; the same request again is safe, a different one while pending is 409', async () => {
    const record = await created();
    const body = { beneficiary: 'Acme Airlines', reason: 'Offsetting 2025 flights' };
    expect((await call('POST', `/api/records/${record.id}/retire`, { body })).status).toBe(202);
    expect((await call('POST', `/api/records/${record.id}/retire`, { body })).status).toBe(202);
    expect(detailOf(await call('POST', `/api/records/${record.id}/retire`, { body: { beneficiary: 'Someone Else' } }), 409)).toMatch(/pending/);
    const events = ((await call('GET', `/api/records/${record.id}`)).body as RecordBody).events;
    expect(events.filter((e) => e.event_type === 'retirement_requested').map((e) => e.payload)).toEqual([body]);
  });

  it('refuses unknown records (404), bad fields (400 naming them) and keys that may not retire (403)', async () => {
    const record = await created();
    expect(detailOf(await call('POST', `/api/records/cc_${'b'.repeat(64)}/retire`, { body: {} }), 404)).toMatch(/not found/);
    expect(detailOf(await call('POST', `/api/records/${record.id}/retire`, { body: { beneficiary: '' } }), 400)).toMatch(/^beneficiary/);
    expect(detailOf(await call('POST', `/api/records/${record.id}/retire`, { body: { beneficary: 'typo' } }), 400)).toMatch(/beneficary/);
    expect(detailOf(await call('POST', `/api/records/${record.id}/retire`, { key: keys.auditor, body: {} }), 403)).toMatch(/auditor/);
    expect(detailOf(await call('GET', `/api/records/cc_${'b'.repeat(64)}/retirement`), 404)).toMatch(/not found/);
  });
});

describe('the rest of /api', () => {
  it('answers an unknown path with 404 in the same shape', async () => {
    expect(detailOf(await call('GET', '/api/nothing'), 404)).toBe('no route GET /api/nothing');
  });
});

describe('/openapi.json and /docs', () => {
  it('is an OpenAPI 3.1 document listing every operation, with the API key scheme and {detail} errors', async () => {
    const answer = await call('GET', '/openapi.json', { key: null });
    expect(answer.status).toBe(200);
    const doc = answer.body as {
      openapi: string;
      paths: Record<string, Record<string, { operationId: string; security: unknown; responses: Record<string, { content?: unknown }> }>>;
      components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toMatch(/^3\.1\./);
    const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => `${method.toUpperCase()} ${path} ${op.operationId}`));
    expect(operations.sort()).toEqual(
      [
        'POST /api/records createRecord',
        'GET /api/records listRecords',
        'GET /api/records/{id} getRecord',
        'POST /api/records/{id}/retire retireRecord',
        'GET /api/records/{id}/retirement getRetirement',
      ].sort(),
    );
    expect(doc.components.securitySchemes.ApiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    const retire = doc.paths['/api/records/{id}/retire']?.post;
    expect(Object.keys(retire?.responses ?? {})).toEqual(expect.arrayContaining(['200', '202', '400', '401', '403', '404', '409', '413', '429']));
    expect(retire?.responses['409']?.content).toEqual({
      'application/json': { schema: { $ref: '#/components/schemas/Error' }, example: { detail: expect.stringMatching(/already retired/) as string } },
    });
    // Only the shapes the facade sends: none of tRPC's error shape.
    expect(Object.keys(doc.components.schemas).sort()).toEqual(['Error', 'Record', 'RecordEvent', 'RetirementStatus']);
  });

  it('serves Swagger UI and every file its page loads from the ledger itself', async () => {
    const redirect = await fetch(`${app.url}/docs`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/docs/');
    const page = await fetch(`${app.url}/docs/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(assets.length).toBeGreaterThan(3);
    for (const asset of assets) {
      expect(asset, 'no file from another origin').not.toMatch(/^(https?:)?\/\//);
      expect((await fetch(new URL(asset, `${app.url}/docs/`))).status, asset).toBe(200);
    }
  });
});

describe('rate limits', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ RATE_LIMIT_AUDITOR: '2', RATE_LIMIT_WINDOW_SECONDS: '60' });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('answers 429 with Retry-After and {detail} once the key has used its calls', async () => {
    const { key } = await limited.as('auditor');
    const list = () => fetch(`${limited.url}/api/records/`, { headers: { authorization: `Bearer ${key}` } });
    expect((await list()).status).toBe(200);
    expect((await list()).status).toBe(200);
    const refused = await list();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await refused.json()) as { detail: string };
    expect(Object.keys(body)).toEqual(['detail']);
    expect(body.detail).toMatch(/rate limit/i);
  });
});

describe('a record busy under contention', () => {
  it('answers 429 with Retry-After and the ledger is busy when its serial stays locked past DB_LOCK_TIMEOUT_MS, and writes nothing', async () => {
    // A second API over the same database, with a short lock timeout; the test holds the serial's row uncommitted.
    const quick = await serveTestApp(
      { databaseUrl: app.databaseUrl, appDatabaseUrl: app.env.DATABASE_URL ?? '', redisUrl: app.redisUrl, prefix: app.prefix },
      { DB_LOCK_TIMEOUT_MS: '300', DB_STATEMENT_TIMEOUT_MS: '10000' },
    );
    const db = openDb(app.databaseUrl, 2);
    try {
      const fields = original();
      const gate = await holdCreditRows(db, [{ registry: fields.registry, serialNumber: fields.serial_number }]);
      let refused: Response;
      try {
        refused = await fetch(`${quick.url}/api/records/`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify(fields),
        });
      } finally {
        await gate.release();
      }
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(await refused.json()).toEqual({ detail: 'the ledger is busy with the same records; retry shortly' });
      const { rows } = await db.query<{ n: string }>('select count(*) as n from credits where serial_number = $1', [fields.serial_number]);
      expect(Number(rows[0]?.n)).toBe(0);
      // Once the row is free the same request goes through.
      expect((await call('POST', '/api/records/', { body: fields })).status).toBe(200);
    } finally {
      await db.end();
      await quick.close();
    }
  });
});
