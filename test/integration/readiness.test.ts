import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsList } from '../../server/db/mikro-orm.config.js';
import { serveTestApp, type TestApp } from '../helpers/app.js';
import { LogCapture } from '../helpers/log-lines.js';
import { withPgClient } from '../helpers/pg.js';
import { creditFields, waitFor } from '../helpers/retirement-e2e.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../helpers/test-db.js';

/*
 * /readyz against real PostgreSQL and Redis, reached through TCP proxies this
 * file controls, so a dependency can hang or die without touching the servers
 * other test files share: 200 when everything answers, 503 naming what is
 * missing otherwise, and always within about READINESS_TIMEOUT_MS.
 */

const TIMEOUT_MS = 500;
let db: TestDatabase;
let pg: TcpProxy;
let redis: TcpProxy;
let app: TestApp;
const logs = new LogCapture();

const hostPort = (url: string) => ({ host: new URL(url).hostname, port: Number(new URL(url).port) });

type Report = { status: string; missing: string[]; checks: Record<string, { ok: boolean; error?: string; pending?: string[] }> };

async function readyz(): Promise<{ status: number; body: Report; ms: number; requestId: string | null }> {
  const started = Date.now();
  const res = await fetch(`${app.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Report, ms: Date.now() - started, requestId: res.headers.get('x-request-id') };
}

const readyAgain = () => waitFor('/readyz to answer 200 again', async () => (await readyz()).status === 200, { timeoutMs: 20_000 });

beforeAll(async () => {
  db = await createTestDatabase();
  const redisUrl = inject('redisUrl');
  pg = await startTcpProxy(hostPort(db.appUrl));
  redis = await startTcpProxy(hostPort(redisUrl));
  app = await serveTestApp(
    { databaseUrl: db.url, appDatabaseUrl: pg.via(db.appUrl), redisUrl: redis.via(redisUrl), prefix: testRedisPrefix() },
    { READINESS_TIMEOUT_MS: String(TIMEOUT_MS) },
    { logs },
  );
});

afterAll(async () => {
  await app?.close();
  await pg?.close();
  await redis?.close();
  await db?.drop();
});

describe('/readyz', () => {
  it('answers 200 when PostgreSQL and Redis answer and every migration is applied', async () => {
    const { status, body, requestId } = await readyz();
    expect(status).toBe(200);
    expect(body).toEqual({ status: 'ready', missing: [], checks: { postgres: { ok: true }, migrations: { ok: true }, redis: { ok: true } } });
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    // The process is up either way.
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  });

  it('answers 503 naming redis, within the timeout, when Redis hangs; 200 once it answers again', async () => {
    redis.freeze();
    try {
      const { status, body, ms } = await readyz();
      expect(status).toBe(503);
      expect(body.missing).toEqual(['redis']);
      expect(body.checks.redis).toEqual({ ok: false, error: `did not answer within ${TIMEOUT_MS} ms` });
      expect(body.checks.postgres).toEqual({ ok: true });
      expect(ms).toBeLessThan(TIMEOUT_MS + 2_500);
    } finally {
      redis.thaw();
    }
    await readyAgain();
  });

  it('answers 503 naming redis when Redis is down', async () => {
    redis.cut();
    try {
      const { status, body } = await readyz();
      expect(status).toBe(503);
      expect(body.missing).toEqual(['redis']);
      expect(body.checks.redis?.ok).toBe(false);
      expect(body.checks.redis?.error).toMatch(/^(unreachable|did not answer)/);
    } finally {
      redis.thaw();
    }
    await readyAgain();
  });

  it('answers 503 naming postgres (and migrations, which it cannot read), within the timeout, when PostgreSQL hangs', async () => {
    pg.freeze();
    try {
      const { status, body, ms } = await readyz();
      expect(status).toBe(503);
      expect(body.missing).toEqual(['postgres', 'migrations']);
      expect(body.checks.postgres).toEqual({ ok: false, error: `did not answer within ${TIMEOUT_MS} ms` });
      expect(body.checks.redis).toEqual({ ok: true });
      expect(ms).toBeLessThan(TIMEOUT_MS + 2_500);
    } finally {
      pg.thaw();
    }
    await readyAgain();
  });

  it('answers 503 naming migrations and listing the one not applied', async () => {
    const last = migrationsList.at(-1)?.name ?? '';
    const { rows } = await withPgClient(db.url, (c) => c.query<{ executed_at: Date }>('delete from mikro_orm_migrations where name = $1 returning executed_at', [last]));
    expect(rows).toHaveLength(1);
    try {
      const { status, body } = await readyz();
      expect(status).toBe(503);
      expect(body.missing).toEqual(['migrations']);
      expect(body.checks.migrations).toEqual({ ok: false, error: '1 migration(s) not applied: run npm run migrate', pending: [last] });
    } finally {
      await withPgClient(db.url, (c) => c.query('insert into mikro_orm_migrations (name, executed_at) values ($1, $2)', [last, rows[0]?.executed_at]));
    }
    expect((await readyz()).status).toBe(200);
  });
});

describe('request-scoped logs', () => {
  it('a procedure that logs (a retirement accepted while Redis is down) does so with the request ID', async () => {
    const [fields] = creditFields(1);
    const { credit } = await app.admin.credits.create.mutate(fields!);
    redis.cut();
    try {
      const res = await fetch(`${app.url}/trpc/credits.retire`, {
        method: 'POST',
        headers: { authorization: `Bearer ${app.env.ADMIN_API_KEY}`, 'content-type': 'application/json', 'x-request-id': 'redis-down-retire-1' },
        body: JSON.stringify({ id: credit.id, beneficiary: 'Readiness Test' }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe('redis-down-retire-1');
      expect(((await res.json()) as { result: { data: { status: string } } }).result.data.status).toBe('queued');
    } finally {
      redis.thaw();
    }
    const line = logs.lines().find((l) => l.msg === 'retirement recorded but not enqueued; the reconciler will enqueue it');
    expect(line?.requestId).toBe('redis-down-retire-1');
    expect(line?.creditId).toBe(credit.id);
    await readyAgain();
  });
});
