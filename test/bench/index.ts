/**
 * `npm run bench`: throughput and latency of the real stack (PostgreSQL,
 * Redis, API over HTTP, worker) on this machine. Goals live here, not in
 * timed tests. BENCH_SCALE=0.1 for a quick run.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLedgerClient } from '../../client/index.js';
import { migrate } from '../../server/db/migrate.js';
import { startPostgres } from '../../server/dev/postgres-server.js';
import { startRedis } from '../../server/dev/redis-server.js';
import { loadEnv } from '../../server/env.js';
import { createLogger } from '../../server/logger.js';
import { startApiServer } from '../../server/api-server.js';
import { startWorker } from '../../worker/worker.js';

const scale = Number(process.env.BENCH_SCALE ?? '1');
const n = (x: number) => Math.max(10, Math.round(x * scale));
const ADMIN = 'bench-admin-key-0123456789abcdef';

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

const credit = (run: string, i: number) => ({
  projectName: `Bench Project ${i % 97}`,
  registry: ['Verra', 'Gold Standard', 'ACR'][i % 3] as string,
  vintage: 2015 + (i % 10),
  quantity: `${1 + (i % 1000)}.${i % 7}`,
  serialNumber: `BENCH-${run}-${i}`,
});

const rows: { scenario: string; count: number; seconds: number; perSecond: number; p50ms?: number; p95ms?: number }[] = [];
const record = (scenario: string, count: number, ms: number, lat?: number[]) =>
  rows.push({
    scenario,
    count,
    seconds: +(ms / 1000).toFixed(2),
    perSecond: Math.round(count / (ms / 1000)),
    ...(lat ? { p50ms: +percentile(lat, 50).toFixed(1), p95ms: +percentile(lat, 95).toFixed(1) } : {}),
  });

const dir = await mkdtemp(join(tmpdir(), 'ledger-bench-'));
await chmod(dir, 0o755); // PostgreSQL runs as its own OS user and must reach its data folder
const pg = await startPostgres({ dataDir: join(dir, 'pg'), ephemeral: false });
const redis = await startRedis({ dataDir: join(dir, 'redis') });
try {
  await migrate(pg.url);
  const env = loadEnv({ ...process.env, PORT: '0', ADMIN_API_KEY: ADMIN, LOG_LEVEL: 'silent', QUEUE_PREFIX: 'bench' });
  const logger = createLogger('bench', 'silent');
  const api = await startApiServer(env, { databaseUrl: pg.url, redisUrl: redis.url }, logger);
  const client = createLedgerClient({ url: api.url, apiKey: ADMIN });
  const run = Date.now().toString(36);

  // 1. Bulk import path: createMany, 1,000 per call.
  const bulk = Array.from({ length: n(50_000) }, (_, i) => credit(`${run}b`, i));
  let t = performance.now();
  for (let i = 0; i < bulk.length; i += 1000) await client.credits.createMany.mutate({ items: bulk.slice(i, i + 1000) });
  record('credits.createMany (1000/call)', bulk.length, performance.now() - t);

  // 2. Single creates, 16 in flight.
  const singles = Array.from({ length: n(3000) }, (_, i) => credit(`${run}s`, i));
  const lat: number[] = [];
  t = performance.now();
  await pool(singles, 16, async (c) => {
    const s = performance.now();
    await client.credits.create.mutate(c);
    lat.push(performance.now() - s);
  });
  record('credits.create (16 concurrent)', singles.length, performance.now() - t, lat);

  // 3. Keyset paging through everything, 500 a page.
  const pageLat: number[] = [];
  let cursor: string | undefined;
  let seen = 0;
  t = performance.now();
  do {
    const s = performance.now();
    const page = await client.credits.list.query({ limit: 500, ...(cursor ? { cursor } : {}) });
    pageLat.push(performance.now() - s);
    seen += page.items.length;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  record(`credits.list pages of 500 (${seen} rows)`, pageLat.length, performance.now() - t, pageLat);

  // 4. Retirement: requests through the API, completion through one worker (concurrency 8).
  const targets = (await client.credits.list.query({ limit: Math.min(500, n(2000)) })).items.map((c) => c.id);
  let more = await client.credits.list.query({ limit: 500, cursor: undefined });
  while (targets.length < n(2000) && more.nextCursor) {
    more = await client.credits.list.query({ limit: 500, cursor: more.nextCursor });
    targets.push(...more.items.map((c) => c.id));
  }
  const ids = [...new Set(targets)].slice(0, n(2000));
  const reqLat: number[] = [];
  t = performance.now();
  await pool(ids, 16, async (id) => {
    const s = performance.now();
    await client.credits.retire.mutate({ id, beneficiary: 'Bench Corp' });
    reqLat.push(performance.now() - s);
  });
  record('credits.retire requests (16 concurrent)', ids.length, performance.now() - t, reqLat);
  const worker = await startWorker({
    orm: api.orm,
    logger,
    redisUrl: redis.url,
    prefix: 'bench',
    concurrency: 8,
    maxAttempts: 8,
    reconcileIntervalMs: 60_000,
    lockDurationMs: 30_000,
    lockTimeoutMs: 5_000,
    maxStalls: 3,
  });
  t = performance.now();
  const em = api.orm.em.fork();
  for (;;) {
    const [row] = await em.execute<{ n: string }[]>(`select count(*) as n from credits where retirement_state = 'pending'`);
    if (Number(row?.n) === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  record('retirements applied by worker (concurrency 8)', ids.length, performance.now() - t);
  await worker.close();
  await api.close();
  console.table(rows);
} finally {
  await redis.stop();
  await pg.stop();
  await rm(dir, { recursive: true, force: true });
}
