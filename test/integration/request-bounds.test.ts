import http from 'node:http';
import net from 'node:net';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectionOf } from '../helpers/api-errors.js';
import { ADMIN_KEY, startTestApp, type TestApp } from '../helpers/app.js';
import { openDb } from '../helpers/pg.js';

/*
 * What one request may cost the server: bodies bounded on every content type
 * before they are read, only JSON accepted, bad charsets and encodings
 * refused (never a 500), batches and what they read or create bounded, and
 * stateAt kept to instants that make sense.
 */

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
const valid = { projectName: 'Bounded Project', registry: 'Verra', vintage: 2021, quantity: '1', serialNumber: 'BOUND-1' };

async function counts() {
  const { rows } = await db.query<{ credits: string; events: string }>('select (select count(*) from credits) as credits, (select count(*) from events) as events');
  return rows[0];
}

async function post(path: string, body: string | Buffer, headers: Record<string, string>) {
  const res = await fetch(`${app.url}/trpc/${path}`, { method: 'POST', headers: { ...AUTH, ...headers }, body });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as { error: { message: string; data: { code: string; httpStatus: number } } } };
}

/** Raw HTTP over a socket: headers that announce a body, and as much of it as we choose to send. */
function rawRequest(head: string, body: Buffer | null): Promise<{ status: number; elapsedMs: number }> {
  const url = new URL(app.url);
  const began = Date.now();
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(head);
      if (body) socket.write(body);
    });
    let received = '';
    socket.on('data', (d: Buffer) => {
      received += d.toString();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (m) {
        socket.destroy();
        resolve({ status: Number(m[1]), elapsedMs: Date.now() - began });
      }
    });
    socket.on('error', reject);
  });
}

describe('request bodies', () => {
  it('a 200 MB multipart upload is refused with 413 from its declared size, before any of it is read', async () => {
    const head = [
      'POST /trpc/credits.create HTTP/1.1',
      `Host: ${new URL(app.url).host}`,
      `Authorization: Bearer ${ADMIN_KEY}`,
      'Content-Type: multipart/form-data; boundary=x',
      `Content-Length: ${200 * 1024 * 1024}`,
      '',
      '',
    ].join('\r\n');
    // Only the first kilobyte is ever sent: the answer must come without waiting for the rest.
    const answer = await rawRequest(head, Buffer.alloc(1024, 'a'));
    expect(answer.status).toBe(413);
    expect(answer.elapsedMs).toBeLessThan(2000);
  });

  it('a streamed body of unknown size is cut off after the limit with 413, long before its end', async () => {
    const url = new URL(app.url);
    const chunk = Buffer.alloc(64 * 1024, ' ');
    let sent = 0;
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        { host: url.hostname, port: url.port, path: '/trpc/credits.create', method: 'POST', headers: { ...AUTH, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on('error', (err) => (sent > 0 ? undefined : reject(err)));
      const pump = () => {
        // Up to 50 MB, unless the server answers first.
        while (sent < 50 * 1024 * 1024 && !req.destroyed) {
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        if (!req.destroyed) req.end();
      };
      pump();
    });
    expect(status).toBe(413);
    expect(sent).toBeLessThan(20 * 1024 * 1024);
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['form-encoded', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=x'],
  ])('a %s body for a mutation → 415, nothing stored', async (_name, type) => {
    const before = await counts();
    const answer = await post('credits.create', JSON.stringify(valid), { 'content-type': type });
    expect(answer.status).toBe(415);
    expect(answer.json().error.data).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE', httpStatus: 415 });
    expect(await counts()).toEqual(before);
  });

  it.each([
    ['an unknown charset', { 'content-type': 'application/json; charset=foo' }, 415],
    ['a non-UTF-8 charset', { 'content-type': 'application/json; charset=latin1' }, 415],
    ['an unknown content encoding', { 'content-type': 'application/json', 'content-encoding': 'bogus' }, 415],
    ['any content encoding, gzip included', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 415],
  ])('%s → %d with a JSON error, never 500', async (_name, headers, status) => {
    const before = await counts();
    const answer = await post('credits.create', JSON.stringify(valid), headers);
    expect(answer.status).toBe(status);
    expect(answer.json().error.data.httpStatus).toBe(status);
    expect(await counts()).toEqual(before);
  });

  it('an unknown path answers a JSON 404', async () => {
    const res = await fetch(`${app.url}/nowhere`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { data: { code: 'NOT_FOUND', httpStatus: 404 } } });
  });
});

describe('batches', () => {
  const batchGet = (paths: string[], inputs: Record<number, unknown>) =>
    fetch(`${app.url}/trpc/${paths.join(',')}?batch=1&input=${encodeURIComponent(JSON.stringify(inputs))}`, { headers: AUTH });

  it('at most MAX_BATCH_SIZE (50) calls in one request: 51 → 400, 50 → 200', async () => {
    const over = await batchGet(Array<string>(51).fill('keys.list'), {});
    expect(over.status).toBe(400);
    const ok = await batchGet(Array<string>(50).fill('keys.list'), {});
    expect(ok.status).toBe(200);
  });

  it('the rows a batch reads are bounded together: 50 × events.list {limit:1000} is refused past 5,000 rows', async () => {
    const inputs = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [i, { limit: 1000 }]));
    const res = await batchGet(Array<string>(50).fill('events.list'), inputs);
    const body = (await res.json()) as { result?: unknown; error?: { data: { code: string }; message: string } }[];
    expect(body.filter((r) => r.result)).toHaveLength(5);
    const refused = body.filter((r) => r.error);
    expect(refused).toHaveLength(45);
    expect(refused[0]?.error?.data.code).toBe('PAYLOAD_TOO_LARGE');
    expect(refused[0]?.error?.message).toMatch(/past 5000 rows read/);
  });

  it('ten createMany calls of 1,000 in one request create at most the documented 1,000 credits', async () => {
    const before = await counts();
    const items = (b: number) => Array.from({ length: 1000 }, (_, i) => ({ ...valid, serialNumber: `B${b}-${i}`, projectName: 'P' }));
    const body = Object.fromEntries(Array.from({ length: 10 }, (_, b) => [b, { items: items(b) }]));
    const res = await post(`${Array<string>(10).fill('credits.createMany').join(',')}?batch=1`, JSON.stringify(body), { 'content-type': 'application/json' });
    const after = await counts();
    expect(Number(after?.credits) - Number(before?.credits)).toBeLessThanOrEqual(1000);
    expect([200, 207, 413]).toContain(res.status);
  });
});

describe('credits.stateAt', () => {
  it.each(['0000-01-01T00:00:00Z', '1989-12-31T23:59:59Z', '2999-01-01T00:00:00Z'])('at %s → BAD_REQUEST naming at, not 500', async (at) => {
    const err = await rejectionOf(app.admin.credits.stateAt.query({ id: `cc_${'a'.repeat(64)}`, at }));
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.message).toMatch(/at must be/);
  });
});
