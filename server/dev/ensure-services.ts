/**
 * Gives `npm start` a PostgreSQL and a Redis: the ones named by DATABASE_URL /
 * REDIS_URL (and MIGRATION_DATABASE_URL) when set, otherwise local servers
 * whose data and generated passwords persist under `dataRoot` so the dev
 * ledger survives restarts.
 */
import path from 'node:path';
import { ensureBinaries } from './binaries.js';
import { startPostgres, type PgHandle } from './postgres-server.js';
import { startRedis, type RedisHandle } from './redis-server.js';
import type { Log, ServiceName } from './service-options.js';

export interface Services {
  /** The app's role (ledger_app): the API's and the worker's DATABASE_URL. */
  databaseUrl: string;
  /** The owner's role (ledger_owner): what migrations run as. */
  migrationUrl: string;
  /** With its password. */
  redisUrl: string;
  /** Stops only the servers this call started; env-provided ones are left alone. */
  stop(): Promise<void>;
}

export interface EnsureServicesOptions {
  /** e.g. `<repo>/.data` */
  dataRoot: string;
  log: Log;
  /** Keep the started servers running after this process exits (the next run reuses them). */
  detach?: boolean;
}

export async function ensureServices(opts: EnsureServicesOptions): Promise<Services> {
  const { log } = opts;
  const envDatabaseUrl = process.env.DATABASE_URL?.trim() || undefined;
  const envMigrationUrl = process.env.MIGRATION_DATABASE_URL?.trim() || undefined;
  const envRedisUrl = process.env.REDIS_URL?.trim() || undefined;

  const needed: ServiceName[] = [];
  if (!envDatabaseUrl) needed.push('postgres');
  if (!envRedisUrl) needed.push('redis');
  await ensureBinaries(needed, log);

  if (envDatabaseUrl) log(`PostgreSQL: using DATABASE_URL (${redact(envDatabaseUrl)})${envMigrationUrl ? ` and MIGRATION_DATABASE_URL (${redact(envMigrationUrl)})` : ''}`);
  if (envRedisUrl) log(`Redis: using REDIS_URL (${redact(envRedisUrl)})`);

  const pgDir = path.resolve(opts.dataRoot, 'postgres');
  const redisDir = path.resolve(opts.dataRoot, 'redis');
  const [pgResult, redisResult] = await Promise.allSettled([
    envDatabaseUrl ? Promise.resolve(null) : startPostgres({ dataDir: pgDir, log, detach: opts.detach }),
    envRedisUrl ? Promise.resolve(null) : startRedis({ dataDir: redisDir, log, detach: opts.detach }),
  ]);
  const pg: PgHandle | null = pgResult.status === 'fulfilled' ? pgResult.value : null;
  const redis: RedisHandle | null = redisResult.status === 'fulfilled' ? redisResult.value : null;
  const stop = async () => {
    await Promise.all([pg?.stop(), redis?.stop()]);
  };

  // Don't leave half a stack running when the other half failed.
  const failure = [pgResult, redisResult].find((r) => r.status === 'rejected');
  if (failure) {
    await stop().catch(() => {});
    throw failure.reason;
  }

  if (pg) {
    log(`PostgreSQL: ${redact(pg.appUrl)} as the app, ${redact(pg.ownerUrl)} for migrations (passwords in ${pgDir}/*.password; data ${pgDir}, log ${path.join(pgDir, 'postgres.log')})`);
  }
  if (redis) log(`Redis: ${redact(redis.url)} (password in ${path.join(redisDir, 'password')}; data ${redisDir}, log ${path.join(redisDir, 'redis.log')})`);

  return {
    databaseUrl: envDatabaseUrl ?? pg?.appUrl ?? '',
    // MIGRATION_DATABASE_URL without DATABASE_URL would name another server than the one started here.
    migrationUrl: envDatabaseUrl ? (envMigrationUrl ?? envDatabaseUrl) : (pg?.ownerUrl ?? ''),
    redisUrl: envRedisUrl ?? redis?.url ?? '',
    stop,
  };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
