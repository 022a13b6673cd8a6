import { appendFile, chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureBinaries, isRoot } from '../../server/dev/binaries.js';
import { startPostgres, type PgHandle } from '../../server/dev/postgres-server.js';
import { withRedis } from '../../server/queue/redis-probe.js';
import { startRedis, type RedisHandle } from '../../server/dev/redis-server.js';
import { run } from '../../server/dev/processes.js';
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

/** What PostgreSQL answers a login over TCP: 'ok', or the SQLSTATE (or message) it refused with. */
async function login(port: number, user: string, password: string | undefined, database = 'postgres'): Promise<string> {
  return withPgClient(`postgres://${user}${password === undefined ? '' : `:${encodeURIComponent(password)}`}@127.0.0.1:${port}/${database}`, () => Promise.resolve('ok')).catch(
    (err: { code?: string; message: string }) => err.code ?? err.message,
  );
}

/** The real (not effective-by-name) uid a process runs as, from /proc. */
async function uidOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
  if (uid === undefined) throw new Error(`no Uid line for pid ${pid}`);
  return Number(uid);
}

const redisServerPid = async (url: string) => Number(/^process_id:(\d+)/m.exec(await withRedis(url, (r) => r.info('server')))?.[1]);

const portOf = (url: string) => Number(new URL(url).port);

const modeOf = async (file: string) => ((await stat(file)).mode & 0o777).toString(8);

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

  it('binds to loopback and answers PING with its password', async () => {
    const password = (await readFile(path.join(root, 'redis', 'password'), 'utf8')).trim();
    expect(password.length).toBeGreaterThanOrEqual(32);
    expect(await modeOf(path.join(root, 'redis', 'password'))).toBe('600');
    expect(redis.url).toBe(`redis://:${password}@127.0.0.1:${redis.port}`);
    expect(await withRedis(redis.url, (r) => r.ping())).toBe('PONG');
  });

  it('answers NOAUTH without the password, and refuses a wrong one', async () => {
    await expect(withRedis(`redis://127.0.0.1:${redis.port}`, (r) => r.ping())).rejects.toThrow(/NOAUTH/);
    await expect(withRedis(`redis://:wrong-password@127.0.0.1:${redis.port}`, (r) => r.ping())).rejects.toThrow(/WRONGPASS|invalid password/i);
  });

  it.runIf(isRoot)('runs as the redis OS user, not as root', async () => {
    const redisUid = Number((await run('id', ['-u', 'redis'])).stdout.trim());
    const uid = await uidOf(await redisServerPid(redis.url));
    expect(uid).not.toBe(0);
    expect(uid).toBe(redisUid);
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

  it('a second launcher on the same folder reuses the server with the same password', async () => {
    const again = await startRedis({ dataDir: path.join(root, 'redis') });
    expect(again.url).toBe(redis.url);
    expect(await withRedis(again.url, (r) => r.get('ledger:survives'))).toBe('yes');
  });
});

describe("the test run's servers (as every test file uses them)", () => {
  it('PostgreSQL refuses TCP logins without a password or with a wrong one, for every role', async () => {
    const port = portOf(inject('pgAdminUrl'));
    for (const user of ['postgres', 'ledger_owner', 'ledger_app']) {
      expect(await login(port, user, 'wrong-password'), user).toBe('28P01');
      // The client cannot even answer the server's password challenge.
      expect(await login(port, user, undefined), user).not.toBe('ok');
      expect(await login(port, user, ''), user).not.toBe('ok');
    }
    expect(await login(port, 'postgres', new URL(inject('pgAdminUrl')).password)).toBe('ok');
  });

  it('Redis answers NOAUTH without the password', async () => {
    const url = new URL(inject('redisUrl'));
    expect(url.password).not.toBe('');
    await expect(withRedis(`redis://127.0.0.1:${url.port}`, (r) => r.ping())).rejects.toThrow(/NOAUTH/);
    expect(await withRedis(url.toString(), (r) => r.ping())).toBe('PONG');
  });

  it.runIf(isRoot && !process.env.TEST_REDIS_URL)('redis-server does not run as root', async () => {
    expect(await uidOf(await redisServerPid(inject('redisUrl')))).not.toBe(0);
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

  const password = async (name: string) => (await readFile(path.join(dataDir(), `${name}.password`), 'utf8')).trim();

  it('serves the ledger database on loopback to its two roles, with passwords kept mode 0600', async () => {
    expect(pg.appUrl).toBe(`postgres://ledger_app:${await password('ledger_app')}@127.0.0.1:${pg.port}/ledger`);
    expect(pg.ownerUrl).toBe(`postgres://ledger_owner:${await password('ledger_owner')}@127.0.0.1:${pg.port}/ledger`);
    expect(pg.adminUrl('postgres')).toBe(`postgres://postgres:${await password('postgres')}@127.0.0.1:${pg.port}/postgres`);
    for (const name of ['postgres', 'ledger_owner', 'ledger_app']) expect(await modeOf(path.join(dataDir(), `${name}.password`)), name).toBe('600');
    expect(await selectOne(pg.appUrl)).toBe(1);
    expect(await selectOne(pg.ownerUrl)).toBe(1);
    expect(await selectOne(pg.adminUrl('postgres'))).toBe(1);
    const owner = await withPgClient(pg.adminUrl('postgres'), async (c) => (await c.query<{ o: string }>(`SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = 'ledger'`)).rows[0]);
    expect(owner).toEqual({ o: 'ledger_owner' });
  });

  it('allows the superuser only over its socket (peer) or over TCP with its password; nothing is trusted', async () => {
    const rules = await withPgClient(pg.adminUrl('postgres'), async (c) =>
      (await c.query<Record<string, unknown>>('SELECT type, database, user_name, address, auth_method, error FROM pg_hba_file_rules ORDER BY line_number')).rows,
    );
    expect(rules).toEqual([
      { type: 'local', database: ['all'], user_name: ['postgres'], address: null, auth_method: 'peer', error: null },
      { type: 'host', database: ['all'], user_name: ['all'], address: '127.0.0.1', auth_method: 'scram-sha-256', error: null },
    ]);
    for (const user of ['postgres', 'ledger_owner', 'ledger_app']) expect(await login(pg.port, user, 'wrong-password'), user).toBe('28P01');
    expect(await login(pg.port, 'postgres', undefined)).not.toBe('ok');
    const socketDir = path.join(dataDir(), 'socket');
    expect(await modeOf(socketDir)).toBe('700');
    if (isRoot) expect((await stat(socketDir)).uid).toBe(Number((await run('id', ['-u', 'postgres'])).stdout.trim()));
  });

  it('reuses a server already running on the same data folder', async () => {
    const again = await startPostgres({ dataDir: dataDir() });
    expect(again.port).toBe(pg.port);
    expect(again.appUrl).toBe(pg.appUrl);
    expect(await selectOne(again.appUrl)).toBe(1);
  });

  it('stops, refuses connections, and starts again with its data', async () => {
    await withPgClient(pg.ownerUrl, (c) => c.query('CREATE TABLE survives (v text); INSERT INTO survives VALUES ($$yes$$)'));
    await pg.stop();
    expect(await tryConnect(pg.port)).toBe('ECONNREFUSED');
    await expect(selectOne(pg.ownerUrl)).rejects.toThrow();

    await pg.start();
    expect(await selectOne(pg.ownerUrl)).toBe(1);
    const rows = await withPgClient(pg.ownerUrl, async (c) => (await c.query<{ v: string }>('SELECT v FROM survives')).rows);
    expect(rows).toEqual([{ v: 'yes' }]);
  });

  it('locks down a cluster an older version made with trust, and gives its tables to ledger_owner', async () => {
    // What an older launcher left: trust for everyone, and the superuser owning the ledger's objects.
    await withPgClient(pg.adminUrl('ledger'), (c) =>
      c.query(`CREATE TABLE old_events (position bigserial PRIMARY KEY, v text);
               CREATE FUNCTION old_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
               ALTER DATABASE ledger OWNER TO postgres`),
    );
    await pg.stop();
    await appendFile(path.join(dataDir(), 'cluster', 'pg_hba.conf'), 'host all all 127.0.0.1/32 trust\nlocal all all trust\n');

    pg = await startPostgres({ dataDir: dataDir() });
    expect(await login(pg.port, 'postgres', undefined)).not.toBe('ok');
    expect(await login(pg.port, 'ledger_app', 'wrong-password')).toBe('28P01');
    const owners = await withPgClient(pg.adminUrl('ledger'), async (c) =>
      (
        await c.query<{ what: string; owner: string }>(`SELECT 'database' AS what, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'ledger'
                       UNION ALL SELECT relname, pg_get_userbyid(relowner) FROM pg_class WHERE relname IN ('old_events', 'old_events_position_seq')
                       UNION ALL SELECT proname, pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'old_refuse' ORDER BY 1`)
      ).rows,
    );
    expect(owners).toEqual([
      { what: 'database', owner: 'ledger_owner' },
      { what: 'old_events', owner: 'ledger_owner' },
      { what: 'old_events_position_seq', owner: 'ledger_owner' },
      { what: 'old_refuse', owner: 'ledger_owner' },
    ]);
  });

  it('keeps its port across launcher runs on a persistent folder', async () => {
    await pg.stop();
    pg = await startPostgres({ dataDir: dataDir() });
    const first = pg.port;
    await pg.stop();
    pg = await startPostgres({ dataDir: dataDir() });
    expect(pg.port).toBe(first);
    expect(await selectOne(pg.appUrl)).toBe(1);
  });
});
