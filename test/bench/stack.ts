/**
 * The real stack, started by the benchmark itself: PostgreSQL with fsync on
 * and Redis with the compose file's settings (the local launchers in
 * server/dev), migrations, then the API as its own process
 * (server/start-api.ts) and worker processes (worker/start-worker.ts).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import pg from 'pg';
import { migrate } from '../../server/db/migrate.js';
import { startPostgres } from '../../server/dev/postgres-server.js';
import { startRedis } from '../../server/dev/redis-server.js';
import { RETIREMENT_QUEUE } from '../../server/queue/retirement-queue.js';
import { cleanEnv, freePort, spawnNode, waitHttp, type NodeProcess } from './processes.js';

const UNLIMITED = '1000000000';

export type Services = {
  /** Temporary folder: data, logs, request files. */
  dir: string;
  /** The bench's own connection, as the cluster owner: seeding, probes, results. */
  db: pg.Client;
  /** The database as the ledger's processes get it, and as the cluster owner (pgbench). */
  databaseUrl: string;
  adminDatabaseUrl: string;
  redisUrl: string;
  /** The ledger's settings for its processes and the admin script; rate limits out of the way. */
  ledgerEnv: Record<string, string>;
  stop(keepLogs: boolean): Promise<void>;
};

export type Keys = { admin: string; issuer: string; retirer: string; auditor: string; issuerId: string };

export type Ledger = {
  apiUrl: string;
  api: NodeProcess;
  keys: Keys;
  workers: NodeProcess[];
  /** Starts or stops worker processes until exactly `n` run, each ready to take jobs. */
  setWorkers(n: number): Promise<void>;
  stop(): Promise<void>;
};

export type Stack = Services & Ledger;

/** The run's temporary folder. */
export async function makeWorkDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ledger-bench-'));
  await chmod(dir, 0o755); // PostgreSQL runs as its own OS user and must reach its folder
  return dir;
}

export async function startServices(dir: string, log: (msg: string) => void): Promise<Services> {
  const [pgServer, redis] = await Promise.all([
    startPostgres({ dataDir: join(dir, 'pg'), ephemeral: false }),
    startRedis({ dataDir: join(dir, 'redis') }),
  ]);
  log(`PostgreSQL (fsync on) on port ${pgServer.port}, Redis (appendonly, noeviction) on port ${new URL(redis.url).port}; data in ${dir}`);
  await migrate(pgServer.ownerUrl);
  const db = new pg.Client({ connectionString: pgServer.adminUrl('ledger') });
  await db.connect();
  return {
    dir,
    db,
    // The ledger's processes log in as they do in production: the app's role.
    databaseUrl: pgServer.appUrl,
    adminDatabaseUrl: pgServer.adminUrl('ledger'),
    redisUrl: redis.url,
    ledgerEnv: {
      DATABASE_URL: pgServer.appUrl,
      REDIS_URL: redis.url,
      ADMIN_API_KEY: `bench-admin-${randomBytes(16).toString('hex')}`,
      QUEUE_PREFIX: 'bench',
      LOG_LEVEL: 'info',
      RATE_LIMIT_ISSUER: UNLIMITED,
      RATE_LIMIT_RETIRER: UNLIMITED,
      RATE_LIMIT_AUDITOR: UNLIMITED,
      RATE_LIMIT_ADMIN: UNLIMITED,
      RATE_LIMIT_ANONYMOUS: UNLIMITED,
    },
    async stop(keepLogs) {
      await db.end();
      await redis.stop();
      await pgServer.stop();
      if (!keepLogs) await rm(dir, { recursive: true, force: true });
      else {
        await Promise.all(['pg/cluster', 'redis'].map((d) => rm(join(dir, d), { recursive: true, force: true })));
        log(`logs kept in ${dir}`);
      }
    },
  };
}

/** The API process with one key per role, and `workers` worker processes. */
export async function startLedger(services: Services, workers: number): Promise<Ledger> {
  const { dir, ledgerEnv } = services;
  const port = await freePort();
  const api = spawnNode('api', 'server/start-api.ts', [], cleanEnv({ ...ledgerEnv, HOST: '127.0.0.1', PORT: String(port) }), join(dir, 'api.log'));
  const apiUrl = `http://127.0.0.1:${port}`;

  const queue = new Queue(RETIREMENT_QUEUE, { connection: { url: services.redisUrl }, prefix: ledgerEnv.QUEUE_PREFIX });
  const running: NodeProcess[] = [];
  let spawned = 0;
  const setWorkers = async (n: number) => {
    while (running.length > n) await running.pop()?.stop();
    while (running.length < n) {
      const i = ++spawned;
      running.push(spawnNode(`worker ${i}`, 'worker/start-worker.ts', [], cleanEnv(ledgerEnv), join(dir, `worker-${i}.log`)));
    }
    const deadline = Date.now() + 60_000;
    while ((await queue.getWorkers()).length !== n) {
      const dead = running.find((w) => !w.alive());
      if (dead || Date.now() > deadline) throw new Error(`${dead?.name ?? 'a worker'} did not start; see ${dead?.logFile ?? dir}`);
      await sleep(100);
    }
  };

  const [keys] = await Promise.all([waitHttp(`${apiUrl}/healthz`, api).then(() => createKeys(apiUrl, ledgerEnv.ADMIN_API_KEY ?? '')), setWorkers(workers)]);
  return {
    apiUrl,
    api,
    keys,
    workers: running,
    setWorkers,
    async stop() {
      await Promise.all([...running.map((w) => w.stop()), api.stop()]);
      await queue.close();
    },
  };
}

/** A tRPC call over HTTP; returns `result.data` or throws with the error body. */
async function trpcPost<T>(apiUrl: string, key: string, path: string, input: unknown): Promise<T> {
  const res = await fetch(`${apiUrl}/trpc/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path} answered ${res.status}: ${text.slice(0, 500)}`);
  return (JSON.parse(text) as { result: { data: T } }).result.data;
}

/** One key per role the load uses, as a real deployment would hand them out. */
async function createKeys(apiUrl: string, admin: string): Promise<Keys> {
  const make = (role: string) => trpcPost<{ key: string; apiKey: { id: string } }>(apiUrl, admin, 'keys.create', { name: `bench ${role}`, role });
  const [issuer, retirer, auditor] = await Promise.all([make('issuer'), make('retirer'), make('auditor')]);
  return { admin, issuer: issuer.key, retirer: retirer.key, auditor: auditor.key, issuerId: issuer.apiKey.id };
}
