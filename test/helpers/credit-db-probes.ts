import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { canonicalRegistry, canonicalSerial } from '../../server/credits/canonical-id.js';

/*
 * Direct PostgreSQL reads and locks for the credits.create tests (the API is
 * never trusted to report on itself): row counts of the credits and events
 * tables, rows held in an open transaction to line up concurrent inserts, and
 * a wait for backends blocked on a lock. Each takes the test file's pool
 * (openDb in ./pg.ts). Every count is one statement, so one snapshot.
 */

/** A single row of `count(*)` columns (returned by pg as strings) as numbers. */
async function countRow<K extends string>(db: Pool, sql: string, params: unknown[] = []): Promise<Record<K, number>> {
  const { rows } = await db.query<Record<K, string>>(sql, params);
  const [row] = rows;
  if (!row) throw new Error('count query returned no row');
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as Record<K, number>;
}

/** Rows in the credits and events tables. */
export async function tableCounts(db: Pool): Promise<{ credits: number; events: number }> {
  return countRow<'credits' | 'events'>(
    db,
    'select (select count(*) from credits) as credits, (select count(*) from events) as events',
  );
}

/** Rows stored for one credit: its projection rows and its `created` events. */
export async function storedFor(db: Pool, id: string): Promise<{ credits: number; created: number; events: number }> {
  return countRow<'credits' | 'created' | 'events'>(
    db,
    `select (select count(*) from credits where id = $1) as credits,
            (select count(*) from events where credit_id = $1 and type = 'created') as created,
            (select count(*) from events where credit_id = $1) as events`,
    [id],
  );
}

/**
 * An open transaction holding uncommitted credits rows with these IDs or
 * registry serials: an insert of the same ID or serial waits for it
 * mid-statement. `release` rolls it back, so nothing of it is ever kept.
 * It keeps one of the pool's connections until released.
 */
export async function holdCreditRows(db: Pool, rows: { id?: string; registry: string; serialNumber: string }[]) {
  const conn = await db.connect();
  try {
    await conn.query('begin');
    for (const r of rows) {
      await conn.query(
        `insert into credits (id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key, status, created_at, version)
         values ($1, 'held by the test', $2, 2020, 1, $3, $4, $5, 'active', now(), 1)`,
        [r.id ?? `cc_${randomBytes(32).toString('hex')}`, r.registry, r.serialNumber, canonicalRegistry(r.registry), canonicalSerial(r.serialNumber)],
      );
    }
    const [me] = (await conn.query<{ pid: number }>('select pg_backend_pid() as pid')).rows;
    if (!me) throw new Error('no backend pid');
    let released = false;
    return {
      pid: me.pid,
      async release() {
        if (released) return;
        released = true;
        await conn.query('rollback').finally(() => conn.release());
      },
    };
  } catch (err) {
    await conn.query('rollback').catch(() => undefined);
    conn.release();
    throw err;
  }
}

/** Waits until `enough` says so about this database's backends that wait on a lock, and who blocks each. */
export async function waitForLockWaits(db: Pool, what: string, enough: (waits: { pid: number; blockers: number[] }[]) => boolean) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await db.query<{ pid: number; blockers: number[] }>(
      `select pid, pg_blocking_pids(pid) as blockers from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`,
    );
    if (enough(rows)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; lock waits: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
