import type { Pool, PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { openDb, waitForSettledFeed } from '../helpers/pg.js';
import { creditFields } from '../helpers/retirement-e2e.js';

/*
 * The global feed without a global write lock: several writers whose
 * transactions commit in a different order than they started (and than they
 * took their positions), and a reader tailing events.list all the while. The
 * reader never sees an event appear behind its cursor, sees each event
 * exactly once, and in the end has seen every event.
 */

let app: TestApp;
let db: Pool;

beforeAll(async () => {
  app = await startTestApp();
  db = openDb(app.databaseUrl, 8);
});

afterAll(async () => {
  await db?.end();
  await app?.close();
});

type Seen = { txId: string; position: string; creditId: string; version: number };
const key = (e: Pick<Seen, 'txId' | 'position'>): [bigint, bigint] => [BigInt(e.txId), BigInt(e.position)];
const less = ([t1, p1]: [bigint, bigint], [t2, p2]: [bigint, bigint]) => t1 < t2 || (t1 === t2 && p1 < p2);

describe('the feed under writers that commit out of order', () => {
  it('a tailing reader never finds an event behind its cursor and in the end sees every event exactly once', async () => {
    const ids = (await app.admin.credits.createMany.mutate({ items: creditFields(12, 'watermark') })).results.map((r) => {
      if (r.outcome !== 'created') throw new Error('not created');
      return r.credit.id;
    });

    // Writers append to the log in open transactions, in one order, and commit in the reverse order.
    const writers: PoolClient[] = [];
    for (const id of ids.slice(0, 6)) {
      const w = await db.connect();
      writers.push(w);
      await w.query('begin');
      const { rows } = await w.query<{ version: number; hash: string }>(`select version, hash from events where credit_id = $1 order by version desc limit 1`, [id]);
      const head = rows[0];
      if (!head) throw new Error('no head');
      // A hand-made but well-formed event: the feed's order is all this test is about.
      await w.query(
        `insert into events (credit_id, version, type, payload, actor, occurred_at, prev_hash, hash)
         values ($1, $2, 'retirement_requested', '{"beneficiary":"W","reason":null}', 'key_writer', now(), $3, md5(random()::text) || md5(random()::text))`,
        [id, head.version + 1, head.hash],
      );
    }

    // The reader tails the feed while the writers commit, newest first, with API traffic in between.
    let cursor = '0-0';
    const seen: Seen[] = [];
    let behind = 0;
    const tail = async () => {
      for (;;) {
        const page = await app.admin.events.list.query({ after: cursor, limit: 7 });
        for (const e of page.events) {
          if (seen.length > 0 && !less(key(seen.at(-1) as Seen), key(e))) behind++;
          seen.push({ txId: e.txId, position: e.position, creditId: e.creditId, version: e.version });
        }
        cursor = page.nextCursor;
        if (page.events.length === 0) return;
      }
    };
    await tail();
    const before = seen.length;
    const visibleWhileOldestOpen: number[] = [];
    for (const w of [...writers].reverse()) {
      await w.query('commit');
      w.release();
      // Meanwhile the API appends to other credits, committing at once: later transactions, later positions.
      await app.admin.credits.retire.mutate({ id: ids[6 + writers.indexOf(w)] as string, beneficiary: 'Live' });
      await tail();
      if (w !== writers[0]) visibleWhileOldestOpen.push(seen.length - before);
    }
    await waitForSettledFeed(app.databaseUrl);
    await tail();

    expect(behind).toBe(0);
    expect(seen.length).toBeGreaterThan(before);
    const { rows: all } = await db.query<{ tx: string; pos: string }>(`select tx_id::text as tx, position::text as pos from events order by events.tx_id, events.position`);
    expect(seen.map((e) => `${e.txId}-${e.position}`)).toEqual(all.map((r) => `${r.tx}-${r.pos}`));
    expect(new Set(seen.map((e) => e.position)).size).toBe(seen.length);
    // While the oldest writer was still open, events committed after it (with higher positions) stayed out of the
    // feed: a reader that had moved its cursor past them would have skipped the oldest writer's event for good.
    expect(visibleWhileOldestOpen).toEqual([0, 0, 0, 0, 0]);
    expect(seen.filter((e) => ids.slice(0, 6).includes(e.creditId) && e.version === 2)).toHaveLength(6);
  });

  it('many concurrent writers through the API: the tail sees exactly the events the table holds, in order', async () => {
    const ids = (await app.admin.credits.createMany.mutate({ items: creditFields(60, 'concurrent') })).results.map((r) => {
      if (r.outcome !== 'created') throw new Error('not created');
      return r.credit.id;
    });
    await waitForSettledFeed(app.databaseUrl);
    let cursor = (await app.admin.events.list.query({ limit: 1000 })).nextCursor;
    const start = cursor;
    const seen: string[] = [];
    let behind = 0;
    let done = false;
    const reader = (async () => {
      let last: [bigint, bigint] | null = null;
      while (!done) {
        const page = await app.admin.events.list.query({ after: cursor, limit: 50 });
        for (const e of page.events) {
          if (last && !less(last, key(e))) behind++;
          last = key(e);
          seen.push(`${e.txId}-${e.position}`);
        }
        cursor = page.nextCursor;
      }
    })();
    await Promise.all(ids.map((id, i) => app.client(app.env.ADMIN_API_KEY as string).credits.retire.mutate({ id, beneficiary: `B${i % 3}` })));
    await waitForSettledFeed(app.databaseUrl);
    done = true;
    await reader;
    for (;;) {
      const page = await app.admin.events.list.query({ after: cursor, limit: 1000 });
      seen.push(...page.events.map((e) => `${e.txId}-${e.position}`));
      cursor = page.nextCursor;
      if (page.events.length === 0) break;
    }
    const [startTx, startPos] = start.split('-');
    const { rows } = await db.query<{ k: string }>(
      `select tx_id::text || '-' || position::text as k from events where (tx_id, position) > ($1::xid8, $2) order by tx_id, position`,
      [startTx, startPos],
    );
    expect(behind).toBe(0);
    expect(seen).toEqual(rows.map((r) => r.k));
    expect(seen).toHaveLength(60);
  });
});
