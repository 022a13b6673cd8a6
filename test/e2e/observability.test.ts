import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLedgerClient, type LedgerClient } from '../../client/index.js';
import { ADMIN_KEY } from '../helpers/app.js';
import { spawnApi, type ApiProcess } from '../helpers/api-process.js';
import { parseLogLines } from '../helpers/log-lines.js';
import { RetirementQueue } from '../../server/queue/retirement-queue.js';
import { createCredits, creditFields, openE2eDb, waitFor } from '../helpers/retirement-e2e.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../helpers/test-db.js';
import { killAllWorkers, spawnWorker, waitForOutput, type WorkerProcess } from '../helpers/worker-process.js';

/*
 * The API and a worker as production runs them (their own processes, their
 * entry points, JSON logs on stdout), against real PostgreSQL and Redis: one
 * request ID followed from the HTTP request through the retirement job into
 * the worker's lines; the worker's probes and metrics on WORKER_HTTP_PORT; the
 * API's /metrics behind the admin key; and not one secret in any log line,
 * from start-up to shutdown.
 */

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let api: ApiProcess;
let worker: WorkerProcess;
let workerUrl: string;
let admin: LedgerClient;
/** Secrets the processes were given or handed out; none may appear in their output. */
const secrets: Record<string, string> = {};

const probesUrl = async (w: WorkerProcess) => {
  // Generous: a loaded machine takes its time to start a tsx process.
  await waitForOutput(w, /worker probes and metrics on http:\/\//, 90_000);
  return /worker probes and metrics on (http:\/\/[^\s"]+)/.exec(w.output())?.[1] ?? '';
};

/** The value of one sample in Prometheus text, e.g. sample(text, 'ledger_db_pool_max'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  db = await createTestDatabase();
  const redisUrl = inject('redisUrl');
  secrets.adminKey = ADMIN_KEY;
  secrets.databasePassword = decodeURIComponent(new URL(db.appUrl).password);
  secrets.redisPassword = decodeURIComponent(new URL(redisUrl).password);
  expect(secrets.databasePassword.length).toBeGreaterThan(8);
  expect(secrets.redisPassword.length).toBeGreaterThan(8);
  env = {
    ...process.env,
    DATABASE_URL: db.appUrl,
    REDIS_URL: redisUrl,
    ADMIN_API_KEY: ADMIN_KEY,
    QUEUE_PREFIX: testRedisPrefix(),
    HOST: '127.0.0.1',
    // Everything a process can say, so the secrets check covers every line it has.
    LOG_LEVEL: 'trace',
  };
  // A 50 ms linger, so that retirements released together share a transaction (see 'a batch of retirements').
  const workerSettings = { LOG_LEVEL: 'trace', WORKER_HTTP_PORT: '0', WORKER_BATCH_LINGER_MS: '50' };
  [api, worker] = await Promise.all([spawnApi(env), Promise.resolve(spawnWorker(env, workerSettings))]);
  workerUrl = await probesUrl(worker);
  await waitForOutput(worker, /retirement worker started/, 90_000);
  admin = createLedgerClient({ url: api.url, apiKey: ADMIN_KEY });
});

afterAll(async () => {
  await api?.stop('SIGKILL');
  await killAllWorkers();
  await db?.drop();
});

describe("the API's probes", () => {
  it('answer /healthz and /readyz (PostgreSQL, migrations, Redis) without a key, each with its own request ID', async () => {
    const health = await fetch(`${api.url}/healthz`);
    expect(await health.json()).toEqual({ ok: true });
    const ready = await fetch(`${api.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', missing: [], checks: { postgres: { ok: true }, migrations: { ok: true }, redis: { ok: true } } });
    expect(health.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(ready.headers.get('x-request-id')).not.toBe(health.headers.get('x-request-id'));
  });
});

describe("the worker's HTTP port", () => {
  it('answers /healthz, /readyz (with the BullMQ worker among its checks) and /metrics, and nothing else', async () => {
    expect(await (await fetch(`${workerUrl}/healthz`)).json()).toEqual({ ok: true });
    const ready = await fetch(`${workerUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      missing: [],
      checks: { postgres: { ok: true }, migrations: { ok: true }, redis: { ok: true }, worker: { ok: true } },
    });
    const metrics = await fetch(`${workerUrl}/metrics`);
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await metrics.text();
    // WORKER_CONCURRENCY 4 → a pool of 6.
    expect(sample(text, 'ledger_db_pool_max')).toBe(6);
    expect(sample(text, 'ledger_queue_jobs{state="waiting"}')).toBe(0);
    expect(sample(text, 'ledger_retirement_attempts_total{outcome="retired"}')).toBe(0);
    expect(sample(text, 'ledger_retirement_failures_total{kind="lock_timeout"}')).toBe(0);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect((await fetch(`${workerUrl}/trpc/credits.list`)).status).toBe(404);
    expect((await fetch(`${workerUrl}/healthz`, { method: 'POST' })).status).toBe(405);
  });
});

describe('a request ID, from the HTTP request to the worker', () => {
  const requestId = `e2e-${randomBytes(6).toString('hex')}`;
  let creditId = '';

  it('is returned in X-Request-Id and carried by the API and worker lines for that retirement', async () => {
    const { credit } = await admin.credits.create.mutate(creditFields(1)[0]!);
    creditId = credit.id;
    const res = await fetch(`${api.url}/trpc/credits.retire`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ id: creditId, beneficiary: 'Observability Fund' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(requestId);
    await waitFor('the retirement', async () => (await admin.credits.retirementStatus.query({ id: creditId })).status === 'retired');

    const workerLine = await waitFor('the worker to log the job done', () =>
      parseLogLines(worker.output()).find((l) => l.msg === 'retirement job done' && l.creditId === creditId),
    );
    expect(workerLine).toMatchObject({ requestId, creditId, outcome: 'retired', name: 'worker' });
    const apiLines = parseLogLines(api.output()).filter((l) => l.requestId === requestId);
    expect(apiLines.map((l) => l.msg)).toContain('POST /trpc/credits.retire 200');
  });

  it('a caller ID that is unsafe (a newline, or too long) is replaced by one of ours', async () => {
    for (const bad of ['forged\n{"level":60}', 'x'.repeat(129), 'a b']) {
      const res = await fetch(`${api.url}/healthz`, { headers: { 'x-request-id': encodeURI(bad) === bad ? bad : encodeURIComponent(bad) } });
      const given = res.headers.get('x-request-id') ?? '';
      expect(given).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });

  it("the worker's metrics count the retirement and its latency from the request", async () => {
    const text = await (await fetch(`${workerUrl}/metrics`)).text();
    expect(sample(text, 'ledger_retirement_attempts_total{outcome="retired"}')).toBe(1);
    expect(sample(text, 'ledger_retirement_latency_seconds_count')).toBe(1);
    const latency = sample(text, 'ledger_retirement_latency_seconds_sum') ?? -1;
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThan(60);
    expect(sample(text, 'ledger_queue_jobs{state="completed"}')).toBe(1);
    expect(sample(text, 'ledger_reconciler_runs_total{result="ok"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'ledger_reconciler_reenqueued_total')).toBe(0);
  });

  it("the API's /metrics needs the admin key and then shows the request, the queue and the pool", async () => {
    const { key: retirerKey } = await admin.keys.create.mutate({ name: 'metrics reader?', role: 'retirer' });
    secrets.retirerKey = retirerKey;
    const anonymous = await fetch(`${api.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect((await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${retirerKey}` } })).status).toBe(403);
    expect((await fetch(`${api.url}/metrics`, { headers: { authorization: 'Bearer ccl_not-a-key-at-all-0123456789' } })).status).toBe(401);

    const res = await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(sample(text, 'ledger_http_request_duration_seconds_count{procedure="credits.retire",status="200"}')).toBe(1);
    expect(sample(text, 'ledger_http_request_duration_seconds_count{procedure="/metrics",status="401"}')).toBe(2);
    expect(sample(text, 'ledger_http_request_duration_seconds_count{procedure="/metrics",status="403"}')).toBe(1);
    expect(sample(text, 'ledger_queue_jobs{state="completed"}')).toBe(1);
    expect(sample(text, 'ledger_db_pool_max')).toBe(10);
    expect(sample(text, 'ledger_db_pool_connections{state="used"}')).toBeGreaterThanOrEqual(0);
  });
});

describe('a batch of retirements', () => {
  it("carries each job's own request ID on the worker's lines, though they share one transaction", async () => {
    const ids = await createCredits(admin, 4);
    const requestIds = ids.map((_, i) => `batch-${i}-${randomBytes(4).toString('hex')}`);
    // Paused, the queue holds the jobs until all four are in; released at once, the worker takes them together.
    const queue = new RetirementQueue(inject('redisUrl'), { prefix: String(env.QUEUE_PREFIX), attempts: 1 });
    const rows = openE2eDb(db.url);
    try {
      await queue.queue.pause();
      for (const [i, id] of ids.entries()) {
        const res = await fetch(`${api.url}/trpc/credits.retire`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'x-request-id': requestIds[i]! },
          body: JSON.stringify({ id, beneficiary: 'Batch Fund' }),
        });
        expect(res.status).toBe(200);
      }
      await queue.queue.resume();
      const done = await waitFor('the worker to log all four jobs done', () => {
        const lines = parseLogLines(worker.output()).filter((l) => l.msg === 'retirement job done' && ids.includes(String(l.creditId)));
        return lines.length === ids.length ? lines : undefined;
      });
      for (const [i, id] of ids.entries()) {
        expect(done.find((l) => l.creditId === id)).toMatchObject({ requestId: requestIds[i], outcome: 'retired', batched: true });
        expect(parseLogLines(api.output()).filter((l) => l.requestId === requestIds[i]).map((l) => l.msg)).toContain('POST /trpc/credits.retire 200');
      }
      // Not vacuous: the database shows retirements that shared a commit.
      const { rows: perTx } = await rows.query<{ n: string }>(
        `select count(*) as n from events where type = 'retired' and credit_id = any($1) group by tx_id order by count(*) desc`,
        [ids],
      );
      expect(Number(perTx[0]?.n)).toBeGreaterThan(1);
    } finally {
      await queue.queue.resume();
      await queue.close();
      await rows.end();
    }
  });
});

describe('secrets in logs', () => {
  it('no key or password appears in any line, from start-up through requests carrying keys to shutdown', async () => {
    const basic = `Basic ${Buffer.from(`admin:${ADMIN_KEY}`).toString('base64')}`;
    expect((await fetch(`${api.url}/admin/queues`, { headers: { authorization: basic } })).status).toBe(200);
    expect((await fetch(`${api.url}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status).toBe(200);
    expect((await fetch(`${api.url}/trpc/credits.list?input=%7B%22limit%22%3A1%7D`, { headers: { authorization: `Bearer ${secrets.retirerKey}`, 'x-api-key': ADMIN_KEY } })).status).toBe(403);
    // A key in a place no one reads it from still must not be logged (the query string is never logged).
    expect((await fetch(`${api.url}/no-such-route?api_key=${ADMIN_KEY}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status).toBe(404);

    expect(await api.stop('SIGTERM')).toBe(0);
    expect(await worker.stop('SIGTERM')).toBe(0);
    // The worker's port closed with it.
    await expect(fetch(`${workerUrl}/healthz`)).rejects.toThrow();

    const output = `${api.output()}\n${worker.output()}`;
    // Not vacuous: the lines of those requests and of start-up and shutdown are there.
    const messages = parseLogLines(output).map((l) => l.msg);
    expect(messages).toEqual(expect.arrayContaining(['GET /admin/queues 200', 'GET /trpc/credits.list 403', 'GET /no-such-route 404', 'retirement worker started']));
    expect(output).toMatch(/ledger API listening on/);
    expect(output).toMatch(/finishing jobs in flight, then exiting/);
    for (const [what, secret] of Object.entries(secrets)) expect(output.includes(secret), `${what} appears in the logs`).toBe(false);
  });
});

describe('worker readiness', () => {
  let proxy: TcpProxy | null = null;
  afterAll(async () => {
    await proxy?.close();
  });

  it('answers 503 naming redis while Redis hangs, 200 once it answers, and is gone after SIGTERM', async () => {
    const redisUrl = inject('redisUrl');
    proxy = await startTcpProxy({ host: new URL(redisUrl).hostname, port: Number(new URL(redisUrl).port) });
    const w = spawnWorker(env, { WORKER_HTTP_PORT: '0', REDIS_URL: proxy.via(redisUrl), READINESS_TIMEOUT_MS: '500' });
    const url = await probesUrl(w);
    await waitForOutput(w, /retirement worker started/, 90_000);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    proxy.freeze();
    try {
      const started = Date.now();
      const res = await fetch(`${url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { missing: string[]; checks: Record<string, unknown> };
      expect(body.missing).toEqual(['redis']);
      expect(body.checks.redis).toEqual({ ok: false, error: 'did not answer within 500 ms' });
      expect(Date.now() - started).toBeLessThan(3_000);
      // The process is still up.
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      proxy.thaw();
    }
    await waitFor('the worker to be ready again', async () => (await fetch(`${url}/readyz`)).status === 200, { timeoutMs: 20_000 });
    expect(await w.stop('SIGTERM')).toBe(0);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
