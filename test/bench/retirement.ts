/**
 * Retirement: the request alone (no worker running: the API records it and
 * answers `queued`), and end to end with worker processes, timed from the
 * ledger's own events (occurred_at of `retirement_requested` and `retired`).
 */
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Stack } from './stack.js';
import { wrk, wrkThreads, type WrkRun } from './wrk.js';

const CONNECTIONS = 16;

async function idsFile(stack: Stack, name: string, ids: string[]): Promise<string> {
  const file = join(stack.dir, `${name}.txt`);
  await writeFile(file, ids.join('\n'));
  return file;
}

/** credits.retire at 16 connections for `seconds`, each request a credit of `ids` never asked for before. */
export async function retireRequests(stack: Stack, ids: string[], seconds: number): Promise<WrkRun> {
  await stack.setWorkers(0);
  const file = await idsFile(stack, 'retire-alone', ids);
  return wrk({ script: 'retire', url: stack.apiUrl, key: stack.keys.retirer, connections: CONNECTIONS, seconds, args: [file, String(wrkThreads(CONNECTIONS))] });
}

export type EndToEnd = { workers: number; credits: number; seconds: number; retiredPerSecond: number; p50Ms: number; p99Ms: number };

/** Counts of `ids` by retirement state. */
async function states(stack: Stack, ids: string[]): Promise<{ requested: number; retired: number }> {
  const { rows } = await stack.db.query<{ requested: string; retired: string }>(
    `select count(*) filter (where retirement_state in ('pending', 'retired'))::text as requested,
            count(*) filter (where retirement_state = 'retired')::text as retired
     from credits where id = any($1)`,
    [ids],
  );
  return { requested: Number(rows[0]?.requested), retired: Number(rows[0]?.retired) };
}

/** Polls until `done`, or until the count stops moving for `stallMs`. */
async function waitFor(read: () => Promise<number>, done: number, stallMs: number): Promise<void> {
  let last = -1;
  let since = Date.now();
  for (;;) {
    const n = await read();
    if (n >= done) return;
    if (n !== last) [last, since] = [n, Date.now()];
    else if (Date.now() - since > stallMs) return;
    await sleep(200);
  }
}

/**
 * Retires every credit of `ids` with `workers` worker processes running: the
 * requests go in at 16 connections as fast as the API takes them, the workers
 * apply them as they come. Throughput is credits / (first
 * `retirement_requested` → last `retired`); a credit's latency is its own
 * `retirement_requested` → `retired`, waiting behind the burst included.
 */
export async function retireEndToEnd(stack: Stack, ids: string[], workers: number): Promise<EndToEnd> {
  await stack.setWorkers(workers);
  const file = await idsFile(stack, `retire-e2e-${workers}`, ids);
  let child: ChildProcess | undefined;
  const load = wrk({
    script: 'retire',
    url: stack.apiUrl,
    key: stack.keys.retirer,
    connections: CONNECTIONS,
    seconds: 3600,
    args: [file, String(wrkThreads(CONNECTIONS))],
    onStart: (c) => (child = c),
  });
  // wrk's threads stop when their IDs are answered, but wrk itself waits out -d: end it once every request is in.
  await waitFor(async () => (await states(stack, ids)).requested, ids.length, 10_000);
  child?.kill('SIGINT');
  await load;
  const { requested } = await states(stack, ids);
  await waitFor(async () => (await states(stack, ids)).retired, requested, 60_000);

  const { rows } = await stack.db.query<{ retired: string; seconds: number; p50: number; p99: number }>(
    `with q as (select credit_id, occurred_at from events where type = 'retirement_requested' and credit_id = any($1)),
          r as (select credit_id, occurred_at from events where type = 'retired' and credit_id = any($1))
     select count(r.credit_id)::text as retired,
            extract(epoch from max(r.occurred_at) - min(q.occurred_at))::float8 as seconds,
            (percentile_cont(0.5) within group (order by extract(epoch from r.occurred_at - q.occurred_at)) * 1000)::float8 as p50,
            (percentile_cont(0.99) within group (order by extract(epoch from r.occurred_at - q.occurred_at)) * 1000)::float8 as p99
     from q left join r using (credit_id)`,
    [ids],
  );
  const row = rows[0];
  const retired = Number(row?.retired ?? 0);
  const seconds = row?.seconds ?? NaN;
  if (retired < ids.length) throw new Error(`only ${retired} of ${ids.length} credits were retired (${requested} requested); see ${stack.dir}/worker-*.log`);
  return { workers, credits: retired, seconds, retiredPerSecond: retired / seconds, p50Ms: row?.p50 ?? NaN, p99Ms: row?.p99 ?? NaN };
}
