/**
 * A PostgreSQL and a Redis owned by one test file, for fault-injection tests
 * that stop and start servers: doing that to the shared servers would break
 * every other file running in parallel.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureBinaries } from '../../server/dev/binaries.js';
import { startPostgres, type PgHandle } from '../../server/dev/postgres-server.js';
import { startRedis, type RedisHandle } from '../../server/dev/redis-server.js';
import { migrate } from '../../server/db/migrate.js';

export interface PrivateStack {
  pg: PgHandle;
  redis: RedisHandle;
  /** Database `ledger` as the superuser: for the tests' inspection, not for the app. */
  databaseUrl: string;
  /** As ledger_owner: migrations. */
  migrationUrl: string;
  /** As ledger_app: the app's DATABASE_URL. */
  appDatabaseUrl: string;
  /** With its password. */
  redisUrl: string;
  /** Stops both servers and deletes their data. */
  close(): Promise<void>;
}

export async function startPrivateStack(): Promise<PrivateStack> {
  await ensureBinaries(['postgres', 'redis']);
  const root = await mkdtemp(path.join(os.tmpdir(), 'ledger-stack-'));
  // mkdtemp makes it 0700; the postgres OS user must be able to enter it.
  await chmod(root, 0o755);
  const started: Array<PgHandle | RedisHandle> = [];
  const close = async () => {
    await Promise.all(started.map((s) => s.stop().catch((err: unknown) => console.error(err))));
    await rm(root, { recursive: true, force: true });
  };
  try {
    // allSettled: if one server fails, the other must be running (and tracked) before close() runs.
    const [pgResult, redisResult] = await Promise.allSettled([
      startPostgres({ dataDir: path.join(root, 'postgres'), ephemeral: true, secrets: 'memory' }),
      startRedis({ dataDir: path.join(root, 'redis'), secrets: 'memory' }),
    ]);
    for (const r of [pgResult, redisResult]) if (r.status === 'fulfilled') started.push(r.value);
    if (pgResult.status === 'rejected') throw pgResult.reason;
    if (redisResult.status === 'rejected') throw redisResult.reason;
    const pg = pgResult.value;
    const redis = redisResult.value;
    await migrate(pg.ownerUrl);
    return { pg, redis, databaseUrl: pg.adminUrl('ledger'), migrationUrl: pg.ownerUrl, appDatabaseUrl: pg.appUrl, redisUrl: redis.url, close };
  } catch (err) {
    await close();
    throw err;
  }
}
