import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Client, QueryResultRow } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsvParser } from '../../server/admin/csv.js';
import { eventHash } from '../../server/credits/event-hash.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { cliEnv, generatedCredit, runCli } from '../helpers/cli-run.js';
import { waitForSettledFeed, withPgClient } from '../helpers/pg.js';

/*
 * verify, rebuild-projections and export against a real ledger, broken on
 * purpose in SQL the way only someone with database access could break it.
 */

type Issue = { kind: string; creditId: string; position: string | null; version: number | null; message: string };
type VerifyResult = { ok: boolean; eventsChecked: number; creditsChecked: number; projectionRowsChecked: number; inconsistencies: Issue[] };
type RebuildResult = { ok: boolean; rebuilt: number; unchanged: number; removed: number; failed: number };
type ExportedEvent = {
  position: string;
  txId: string;
  creditId: string;
  version: number;
  type: string;
  data: unknown;
  actor: string;
  occurredAt: string;
  prevHash: string | null;
  hash: string;
};

const CREDITS = 400;
const RETIRED = 40;

let app: TestApp;
let env: NodeJS.ProcessEnv;
let dir: string;
let ids: string[];

const sql = <T extends QueryResultRow = Record<string, unknown>>(text: string, params: unknown[] = []) =>
  withPgClient(app.databaseUrl, async (c) => (await c.query<T>(text, params)).rows);

/** Runs `fn` with the append-only trigger off, in one transaction, and always turns it back on. */
const withTriggerOff = (fn: (c: Client) => Promise<unknown>) =>
  withPgClient(app.databaseUrl, async (c) => {
    await c.query('begin');
    try {
      await c.query('alter table events disable trigger events_immutable');
      await fn(c);
      await c.query('alter table events enable trigger events_immutable');
      await c.query('commit');
    } catch (err) {
      await c.query('rollback');
      throw err;
    }
  });

const verify = async (...extra: string[]) => {
  const r = await runCli(['verify', '--json', '--batch-size', '100', ...extra], env);
  return { code: r.code, result: r.json<VerifyResult>(), stderr: r.stderr };
};

beforeAll(async () => {
  app = await startTestApp();
  env = cliEnv(app);
  dir = await mkdtemp(path.join(os.tmpdir(), 'admin-ledger-'));
  const { results } = await app.admin.credits.createMany.mutate({ items: Array.from({ length: CREDITS }, (_, i) => generatedCredit('LED', i)) });
  ids = results.map((r) => (r.outcome === 'created' ? r.credit.id : ''));
  expect(ids.every((id) => id.startsWith('cc_'))).toBe(true);
  // Streams longer than one event: retirement requests (no worker runs, so they stay pending).
  for (const id of ids.slice(0, RETIRED)) await app.admin.credits.retire.mutate({ id, beneficiary: 'City of Example', reason: 'audit test' });
});

afterAll(async () => {
  await app?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('admin verify', () => {
  it('passes on a healthy ledger and counts what it checked', async () => {
    const { code, result } = await verify();
    expect(code).toBe(0);
    expect(result).toMatchObject({ ok: true, eventsChecked: CREDITS + RETIRED, creditsChecked: CREDITS, projectionRowsChecked: CREDITS, inconsistencies: [] });
    const human = await runCli(['verify'], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`verify: OK — ${CREDITS + RETIRED} events in ${CREDITS} credit streams`);
  });

  it('fails on an event whose payload was edited in SQL, naming its position and credit', async () => {
    const [target] = await sql<{ position: string; credit_id: string; payload: unknown }>(
      `select position::text, credit_id, payload from events where type = 'retirement_requested' order by position desc limit 1`,
    );
    if (!target) throw new Error('no retirement event');
    await withTriggerOff((c) => c.query(`update events set payload = jsonb_set(payload, '{beneficiary}', '"Mallory"') where position = $1`, [target.position]));
    try {
      // The trigger is back on: history cannot be edited by accident afterwards.
      expect((await sql<{ tgenabled: string }>(`select tgenabled from pg_trigger where tgname = 'events_immutable'`))[0]?.tgenabled).toBe('O');

      const { code, result } = await verify();
      expect(code).toBe(1);
      expect(result.ok).toBe(false);
      expect(result.inconsistencies).toHaveLength(1);
      expect(result.inconsistencies[0]).toMatchObject({ kind: 'hash_mismatch', position: target.position, creditId: target.credit_id, version: 2 });

      const human = await runCli(['verify'], env);
      expect(human.code).toBe(1);
      expect(human.stdout).toContain(`FAILED at position ${target.position} (credit ${target.credit_id})`);
    } finally {
      await withTriggerOff((c) => c.query(`update events set payload = $2::jsonb where position = $1`, [target.position, JSON.stringify(target.payload)]));
    }
    expect((await verify()).code).toBe(0);
  });

  it('fails on a corrupted projection row, and rebuild-projections repairs it', async () => {
    const victim = ids[RETIRED + 7] as string;
    const before = await sql(`select * from credits where id = $1`, [victim]);
    const [last] = await sql<{ position: string }>(`select max(position)::text as position from events where credit_id = $1`, [victim]);
    await sql(`update credits set quantity = quantity + 1, project_name = 'Tampered' where id = $1`, [victim]);

    const broken = await verify();
    expect(broken.code).toBe(1);
    expect(broken.result.inconsistencies[0]).toMatchObject({ kind: 'projection_mismatch', creditId: victim, position: last?.position });
    expect(broken.result.inconsistencies[0]?.message).toMatch(/quantity is .*projectName is "Tampered"|projectName is "Tampered".*quantity is/);

    const rebuild = await runCli(['rebuild-projections', '--json'], env);
    expect(rebuild.code, rebuild.stderr).toBe(0);
    expect(rebuild.json<RebuildResult>()).toMatchObject({ ok: true, rebuilt: 1, unchanged: CREDITS - 1, removed: 0, failed: 0 });
    expect(await sql(`select * from credits where id = $1`, [victim])).toEqual(before);
    expect((await verify()).code).toBe(0);
  });

  it('finds a missing row and a row without events; rebuild restores the one and removes the other', async () => {
    const missing = ids[RETIRED + 11] as string;
    const before = await sql(`select * from credits where id = $1`, [missing]);
    const orphan = `cc_${'ab'.repeat(32)}`;
    await sql(`delete from credits where id = $1`, [missing]);
    await sql(
      `insert into credits (id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key, status, created_at, version)
       values ($1, 'Ghost', 'Nowhere', 2020, 1, 'G-1', 'nowhere', 'g-1', 'active', now(), 1)`,
      [orphan],
    );

    const broken = await verify('--keep-going');
    expect(broken.code).toBe(1);
    expect(broken.result.inconsistencies.map((i) => [i.kind, i.creditId])).toEqual([
      ['missing_projection', missing],
      ['orphan_projection', orphan],
    ]);

    const rebuild = await runCli(['rebuild-projections', '--json'], env);
    expect(rebuild.json<RebuildResult>()).toMatchObject({ rebuilt: 1, removed: 1, failed: 0, unchanged: CREDITS - 1 });
    expect(await sql(`select * from credits where id = $1`, [missing])).toEqual(before);
    expect(await sql(`select id from credits where id = $1`, [orphan])).toEqual([]);
    expect((await verify()).code).toBe(0);
  });

  it('rebuild-projections --all runs beside live writers without losing their changes', async () => {
    const targets = ids.slice(RETIRED, RETIRED + 25);
    const rebuilding = runCli(['rebuild-projections', '--all', '--json'], env);
    const requests = (async () => {
      for (const id of targets) await app.admin.credits.retire.mutate({ id, beneficiary: 'Concurrent Co', reason: null });
    })();
    const [rebuild] = await Promise.all([rebuilding, requests]);
    expect(rebuild.code, rebuild.stderr).toBe(0);
    const counts = rebuild.json<RebuildResult>();
    expect(counts.failed).toBe(0);
    expect(counts.rebuilt + counts.unchanged).toBe(CREDITS);
    const pending = await sql<{ n: string }>(`select count(*) as n from credits where retirement_state = 'pending' and id = any($1)`, [targets]);
    expect(Number(pending[0]?.n)).toBe(targets.length);
    const { code, result } = await verify();
    expect(code).toBe(0);
    expect(result.eventsChecked).toBe(CREDITS + RETIRED + targets.length);
  });
});

describe('admin export', () => {
  /** Recomputes every hash and every link, as an auditor would with the export alone, and checks the feed's order. */
  function checkChains(events: ExportedEvent[]) {
    const heads = new Map<string, { version: number; hash: string }>();
    let last: [bigint, bigint] = [0n, 0n];
    for (const e of events) {
      const key: [bigint, bigint] = [BigInt(e.txId), BigInt(e.position)];
      expect(key[0] > last[0] || (key[0] === last[0] && key[1] > last[1])).toBe(true);
      last = key;
      const head = heads.get(e.creditId);
      expect(e.version).toBe((head?.version ?? 0) + 1);
      expect(e.prevHash).toBe(head?.hash ?? null);
      const recomputed = eventHash({ ...e, occurredAt: new Date(e.occurredAt) } as Parameters<typeof eventHash>[0]);
      expect(recomputed).toBe(e.hash);
      heads.set(e.creditId, { version: e.version, hash: e.hash });
    }
    return heads;
  }

  it('exports the whole log as JSON Lines whose hashes chain correctly', async () => {
    await waitForSettledFeed(app.databaseUrl);
    const r = await runCli(['export', '--format', 'jsonl', '--json', '--quiet'], env);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as ExportedEvent);
    const [{ n } = { n: '0' }] = await sql<{ n: string }>(`select count(*)::text as n from events`);
    expect(events).toHaveLength(Number(n));
    const heads = checkChains(events);
    expect(heads.size).toBe(CREDITS);
    const last = events.at(-1);
    // The summary goes to stderr, so stdout stays pure data.
    expect(JSON.parse(r.stderr)).toMatchObject({ ok: true, format: 'jsonl', events: Number(n), after: '0-0', nextCursor: `${last?.txId}-${last?.position}` });
    // The exported hashes are the stored ones, in (transaction, position) order.
    const stored = await sql<{ position: string; hash: string }>(`select position::text, hash from events order by events.tx_id, events.position`);
    expect(events.map((e) => [e.position, e.hash])).toEqual(stored.map((s) => [s.position, s.hash]));
  });

  it('exports CSV after a cursor to a file, with data as the canonical JSON the hash covers', async () => {
    await waitForSettledFeed(app.databaseUrl);
    // Start just before the first retirement request in feed order.
    const [start] = await sql<{ tx: string; pos: string }>(
      `select tx_id::text as tx, position::text as pos from events where type = 'retirement_requested' order by tx_id, position limit 1`,
    );
    if (!start) throw new Error('no retirement requested');
    const [prev] = await sql<{ tx: string; pos: string }>(
      `select tx_id::text as tx, position::text as pos from events where (tx_id, position) < ($1::xid8, $2) order by tx_id desc, position desc limit 1`,
      [start.tx, start.pos],
    );
    const after = prev ? `${prev.tx}-${prev.pos}` : '0-0';
    const out = path.join(dir, 'events.csv');
    const r = await runCli(['export', '--format', 'csv', '--after', after, '--out', out, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(`${out}.partial`)).toBe(false);
    const parser = new CsvParser();
    const records = [...parser.push(await readFile(out, 'utf8')), ...parser.end()];
    expect(records[0]?.fields).toEqual(['position', 'txId', 'creditId', 'version', 'type', 'occurredAt', 'actor', 'prevHash', 'hash', 'data']);
    const rows = records.slice(1).map((rec) => rec.fields ?? []);
    const [{ n } = { n: '0' }] = await sql<{ n: string }>(`select count(*)::text as n from events where (tx_id, position) >= ($1::xid8, $2)`, [start.tx, start.pos]);
    expect(rows).toHaveLength(Number(n));
    expect(r.json()).toMatchObject({ ok: true, events: Number(n), after, out });
    expect(rows[0]?.slice(0, 2)).toEqual([start.pos, start.tx]);
    for (const [, , creditId, version, type, occurredAt, actor, prevHash, hash, data] of rows) {
      const recomputed = eventHash({
        creditId: creditId ?? '',
        version: Number(version),
        type: type ?? '',
        data: JSON.parse(data ?? 'null') as unknown,
        actor: actor ?? '',
        occurredAt: new Date(occurredAt ?? ''),
        prevHash: prevHash === '' ? null : (prevHash ?? null),
      } as Parameters<typeof eventHash>[0]);
      expect(recomputed).toBe(hash);
    }
  });
});
