/*
 * Direct PostgreSQL access for tests (the API is never trusted to report on
 * itself): a pool for a test file, or one client for one piece of work.
 */
import pg from 'pg';

/** Pool settings other than the URL and size, e.g. application_name or connectionTimeoutMillis. */
export type DbOptions = Omit<pg.PoolConfig, 'connectionString' | 'max'>;

/**
 * A small pool straight to a test database. Errors of idle clients (the
 * server being stopped on purpose) are swallowed so they cannot crash the run;
 * queries still fail loudly. Close it with `end()`.
 */
export function openDb(connectionString: string, max = 3, options: DbOptions = {}): pg.Pool {
  const pool = new pg.Pool({ ...options, connectionString, max });
  pool.on('error', () => undefined);
  return pool;
}

/** Runs `fn` with a connected client and always closes it. */
export async function withPgClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // A server going away mid-test must surface as a failed query, not an uncaught 'error' event.
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}
