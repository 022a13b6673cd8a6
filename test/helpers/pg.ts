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

/**
 * Waits until every event already in the database lies below the feed's
 * watermark, so reading the feed shows all of them. Transaction IDs are
 * cluster-wide: a test in another file holding a transaction open (a worker
 * paused with a row lock, say) holds the whole feed back until it finishes.
 */
export async function waitForSettledFeed(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await withPgClient(url, async (client) => {
    for (;;) {
      const { rows } = await client.query<{ settled: boolean }>(
        `select coalesce(max(tx_id) < pg_snapshot_xmin(pg_current_snapshot()), true) as settled from events`,
      );
      if (rows[0]?.settled) return;
      if (Date.now() > deadline) throw new Error(`the feed did not settle within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
}
