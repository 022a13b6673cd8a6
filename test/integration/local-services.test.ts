import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBinaries } from '../../server/dev/binaries.js';
import { startPostgres, type PgHandle } from '../../server/dev/postgres-server.js';
import { withRedis } from '../../server/queue/redis-probe.js';
import { startRedis, type RedisHandle } from '../../server/dev/redis-server.js';
import { withPgClient } from '../helpers/pg.js';

/** Resolves with the connect error code, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

async function selectOne(url: string): Promise<unknown> {
  return withPgClient(url, async (c) => (await c.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one);
}

let root: string;

beforeAll(async () => {
  await ensureBinaries(['postgres', 'redis']);
  root = await mkdtemp(path.join(os.tmpdir(), 'ledger-local-services-'));
  // The postgres OS user must be able to enter it when we run as root.
  await chmod(root, 0o755);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('startRedis', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis({ dataDir: path.join(root, 'redis') });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('binds to loopback and answers PING', async () => {
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(await withRedis(redis.url, (r) => r.ping())).toBe('PONG');
  });

  it('uses the noeviction policy BullMQ requires', async () => {
    expect(await withRedis(redis.url, (r) => r.config('GET', 'maxmemory-policy'))).toEqual(['maxmemory-policy', 'noeviction']);
    expect(await withRedis(redis.url, (r) => r.config('GET', 'appendonly'))).toEqual(['appendonly', 'yes']);
  });

  it('stops, refuses connections, and restarts on the same port with appendonly data intact', async () => {
    await withRedis(redis.url, (r) => r.set('ledger:survives', 'yes'));
    await redis.stop();
    expect(await tryConnect(redis.port)).toBe('ECONNREFUSED');

    await redis.start();
    expect(await withRedis(redis.url, (r) => r.ping())).toBe('PONG');
    expect(await withRedis(redis.url, (r) => r.get('ledger:survives'))).toBe('yes');
  });
});

describe('startPostgres', () => {
  let pg: PgHandle;
  const dataDir = () => path.join(root, 'postgres');
  beforeAll(async () => {
    pg = await startPostgres({ dataDir: dataDir(), ephemeral: true });
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('serves the ledger database on loopback', async () => {
    expect(pg.url).toBe(`postgres://postgres@127.0.0.1:${pg.port}/ledger`);
    expect(await selectOne(pg.url)).toBe(1);
    expect(pg.adminUrl('postgres')).toBe(`postgres://postgres@127.0.0.1:${pg.port}/postgres`);
  });

  it('reuses a server already running on the same data folder', async () => {
    const again = await startPostgres({ dataDir: dataDir() });
    expect(again.port).toBe(pg.port);
    expect(await selectOne(again.url)).toBe(1);
  });

  it('stops, refuses connections, and starts again with its data', async () => {
    await withPgClient(pg.url, (c) => c.query('CREATE TABLE survives (v text); INSERT INTO survives VALUES ($$yes$$)'));
    await pg.stop();
    expect(await tryConnect(pg.port)).toBe('ECONNREFUSED');
    await expect(selectOne(pg.url)).rejects.toThrow();

    await pg.start();
    expect(await selectOne(pg.url)).toBe(1);
    const rows = await withPgClient(pg.url, async (c) => (await c.query<{ v: string }>('SELECT v FROM survives')).rows);
    expect(rows).toEqual([{ v: 'yes' }]);
  });

  it('keeps its port across launcher runs on a persistent folder', async () => {
    await pg.stop();
    pg = await startPostgres({ dataDir: dataDir() });
    const first = pg.port;
    await pg.stop();
    pg = await startPostgres({ dataDir: dataDir() });
    expect(pg.port).toBe(first);
    expect(await selectOne(pg.url)).toBe(1);
  });
});
