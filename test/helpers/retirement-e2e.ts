import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { LedgerClient } from '../../client/index.js';
import { openDb } from './pg.js';

/*
 * Shared pieces of the asynchronous-retirement end-to-end tests: direct
 * PostgreSQL reads (the exactly-once checks never trust the API), deadline
 * polling, and credit factories.
 */

/**
 * A small pool straight to the test database (see openDb), named for
 * pg_stat_activity and quick to give up on a server that is down.
 */
export function openE2eDb(connectionString: string, max = 3): Pool {
  return openDb(connectionString, max, { application_name: 'e2e-test', connectionTimeoutMillis: 5000 });
}

/** credit_id → number of `retired` events, read from PostgreSQL. */
async function retiredCounts(db: Pool): Promise<Map<string, number>> {
  const { rows } = await db.query<{ credit_id: string; n: string }>(
    `select credit_id, count(*) as n from events where type = 'retired' group by credit_id`,
  );
  return new Map(rows.map((r) => [r.credit_id, Number(r.n)]));
}

export async function countOf(db: Pool, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: string }>(sql, params);
  return Number(rows[0]?.n ?? 0);
}

export const eventCount = (db: Pool) => countOf(db, 'select count(*) as n from events');
export const pendingCount = (db: Pool) => countOf(db, `select count(*) as n from credits where retirement_state = 'pending'`);
export const retiredEventCount = (db: Pool, ids: string[]) =>
  countOf(db, `select count(*) as n from events where type = 'retired' and credit_id = any($1)`, [ids]);

/**
 * Asserts from the database that each credit has exactly one `retired` event
 * and that no other credit in the database got one.
 */
export async function exactlyOnceReport(db: Pool, ids: string[]): Promise<{ missing: string[]; doubled: string[]; unexpected: string[] }> {
  const counts = await retiredCounts(db);
  const want = new Set(ids);
  return {
    missing: ids.filter((id) => !counts.has(id)),
    doubled: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
    unexpected: [...counts.keys()].filter((id) => !want.has(id)),
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns something other than undefined/false, or
 * throws once `timeoutMs` has passed, naming what it waited for and the last
 * value or error seen. Errors of the probe count as "not yet".
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const shown = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${shown})`);
    }
    await sleep(intervalMs);
  }
}

/** Distinct, valid credit fields; `tag` keeps serials unique across tests and runs. */
export function creditFields(count: number, tag = randomUUID().slice(0, 8)) {
  return Array.from({ length: count }, (_, i) => ({
    projectName: `E2E Retirement Project ${tag}`,
    registry: 'Verra',
    vintage: 2020 + (i % 4),
    quantity: String(1 + (i % 50)),
    serialNumber: `VCS-E2E-${tag}-${String(i).padStart(5, '0')}`,
  }));
}

/** Creates `count` credits through the API (createMany, 500 a call) and returns their IDs in order. */
export async function createCredits(admin: LedgerClient, count: number, tag?: string): Promise<string[]> {
  const fields = creditFields(count, tag);
  const ids: string[] = [];
  for (let i = 0; i < fields.length; i += 500) {
    const { results } = await admin.credits.createMany.mutate({ items: fields.slice(i, i + 500) });
    for (const r of results) {
      if (r.outcome !== 'created') throw new Error(`credit ${r.index} not created: ${JSON.stringify(r)}`);
      ids.push(r.credit.id);
    }
  }
  return ids;
}

/** Settles every promise; returns fulfilled values and rejections in input order. */
export async function settleAll<T>(calls: Promise<T>[]) {
  const settled = await Promise.allSettled(calls);
  return settled.map((s) => (s.status === 'fulfilled' ? { ok: true as const, value: s.value } : { ok: false as const, error: s.reason as unknown }));
}

/** Env for a worker subprocess: the app's env plus overrides, and an application_name for pg_stat_activity. */
export function workerEnv(appEnv: NodeJS.ProcessEnv, name: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...appEnv, PGAPPNAME: name, ...extra };
}

/** Polls retirementStatus for each credit until all are final; returns id → status. */
export async function statusesOf(client: LedgerClient, ids: string[]) {
  const out = new Map<string, Awaited<ReturnType<LedgerClient['credits']['retirementStatus']['query']>>>();
  for (let i = 0; i < ids.length; i += 50) {
    const chunk = ids.slice(i, i + 50);
    const answers = await Promise.all(chunk.map((id) => client.credits.retirementStatus.query({ id })));
    chunk.forEach((id, j) => {
      const a = answers[j];
      if (a) out.set(id, a);
    });
  }
  return out;
}
