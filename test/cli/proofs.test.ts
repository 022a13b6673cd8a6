import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Client, Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rootOf, eventLeafHash } from '../../server/proofs/merkle.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { cliEnv, runCli } from '../helpers/cli-run.js';
import { waitForSettledFeed, withPgClient } from '../helpers/pg.js';
import { createCredits, openE2eDb, retiredEventCount, waitFor, workerEnv } from '../helpers/retirement-e2e.js';
import { newSigningJwk } from '../helpers/signing-keys.js';
import { databaseUrl } from '../helpers/test-db.js';
import { killAllWorkers, spawnWorker, waitForOutput } from '../helpers/worker-process.js';

/*
 * The operator's and the auditor's proof commands against a real ledger:
 * `certificate verify` offline with a saved JWK Set, `checkpoint`, `verify`
 * and `verify --checkpoint` after the database's owner role deleted a stream,
 * the tail of a retired credit's stream, or changed one byte of a payload,
 * and `export` ending with the latest checkpoint.
 */

type Issue = { kind: string; creditId: string; position: string | null; message: string };

let app: TestApp;
let env: NodeJS.ProcessEnv;
let dir: string;
let ids: string[];
let ownerUrl: string;
let db: Pool;
const RETIRED = 6;

/** As ledger_owner, the role that owns the tables: what someone holding the owner's login could do. */
const asOwner = <T>(fn: (c: Client) => Promise<T>) => withPgClient(ownerUrl, fn);

type EventRow = { position: string; credit_id: string; version: number; type: string };
const eventsOf = (id: string) =>
  asOwner(async (c) => (await c.query<EventRow>(`select position::text, credit_id, version, type from events where credit_id = $1 order by version`, [id])).rows);

/**
 * Runs `check` with the events `where` selects deleted (or edited by `edit`), as the owner does it: the append-only
 * trigger switched off for the change. Puts the log back exactly as it was afterwards.
 */
async function tampered(change: { delete: string; params: unknown[] } | { edit: string; params: unknown[]; restoreWhere: string }, check: () => Promise<void>): Promise<void> {
  const where = 'delete' in change ? change.delete : change.restoreWhere;
  const saved = await asOwner(async (c) => (await c.query<{ rows: unknown }>(`select coalesce(json_agg(e), '[]') as rows from events e where ${where}`, change.params)).rows[0]?.rows);
  const offAndOn = async (sql: string, params: unknown[]) =>
    asOwner(async (c) => {
      await c.query('begin');
      await c.query('alter table events disable trigger events_immutable');
      await c.query(sql, params);
      await c.query('alter table events enable trigger events_immutable');
      await c.query('commit');
    });
  if ('delete' in change) await offAndOn(`delete from events where ${change.delete}`, change.params);
  else await offAndOn(change.edit, change.params);
  try {
    await check();
  } finally {
    await offAndOn(`delete from events where ${where}`, change.params);
    await offAndOn(`insert into events select * from json_populate_recordset(null::events, $1::json)`, [JSON.stringify(saved)]);
  }
}

const jwksFile = () => path.join(dir, 'jwks.json');
const checkpointFile = () => path.join(dir, 'checkpoint.json');

const verifyAgainst = async (file: string) => {
  const r = await runCli(['verify', '--checkpoint', file, '--jwks', jwksFile(), '--json'], env);
  return { code: r.code, result: r.json<{ ok: boolean; eventsChecked: number; inconsistencies: Issue[]; checkpoint: { size: number } }>() };
};

beforeAll(async () => {
  app = await startTestApp();
  env = cliEnv(app);
  ownerUrl = databaseUrl(inject('pgOwnerUrl'), new URL(app.databaseUrl).pathname.slice(1));
  dir = await mkdtemp(path.join(os.tmpdir(), 'admin-proofs-'));
  db = openE2eDb(app.databaseUrl, 1);
  ids = await createCredits(app.admin, 20, 'proofs');
  for (const id of ids.slice(0, RETIRED)) await app.admin.credits.retire.mutate({ id, beneficiary: 'Acme Corp', reason: 'FY2026 scope 1' });
  // The real worker retires them and signs their certificates; it makes no checkpoint of its own here.
  const worker = spawnWorker(workerEnv(app.env, 'proofs-worker', { CHECKPOINT_INTERVAL_MS: '0' }));
  await waitForOutput(worker, /retirement worker started/);
  await waitFor('retirements', async () => (await retiredEventCount(db, ids.slice(0, RETIRED))) === RETIRED || undefined, { timeoutMs: 60_000, intervalMs: 100 });
  expect(await worker.stop()).toBe(0);
  await waitForSettledFeed(app.databaseUrl);
  // The auditor's copy of the ledger's public keys, fetched once.
  await writeFile(jwksFile(), await (await fetch(`${app.url}/.well-known/jwks.json`)).text());
}, 120_000);

afterAll(async () => {
  await killAllWorkers();
  await db?.end();
  await app?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('admin certificate verify', { timeout: 180_000 }, () => {
  it('says which key signed a certificate and prints it, offline, from a saved JWK Set or its URL', async () => {
    const id = ids[0] ?? '';
    const file = path.join(dir, 'certificate.json');
    await writeFile(file, JSON.stringify(await app.admin.credits.certificate.query({ id })));
    const kid = (JSON.parse(await readFile(jwksFile(), 'utf8')) as { keys: { kid: string }[] }).keys[0]?.kid ?? '';
    const r = await runCli(['certificate', 'verify', file, '--jwks', jwksFile()], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`certificate OK: signed by key ${kid}`);
    expect(r.stdout).toMatch(/beneficiary\s+Acme Corp/);
    expect(r.stdout).toContain(id);
    const byUrl = await runCli(['certificate', 'verify', file, '--jwks', `${app.url}/.well-known/jwks.json`, '--json'], env);
    expect(byUrl.code).toBe(0);
    expect(byUrl.json()).toMatchObject({ ok: true, kid, certificate: { creditId: id, beneficiary: 'Acme Corp', reason: 'FY2026 scope 1' } });
  });

  it('fails naming why: a changed byte, a key not in the JWK Set, a truncated JWS', async () => {
    const { jws } = await app.admin.credits.certificate.query({ id: ids[1] ?? '' });
    const [h, p, s] = jws.split('.') as [string, string, string];
    const changed = `${h}.${Buffer.from(Buffer.from(p, 'base64url').toString().replace('Acme Corp', 'Acme Corq')).toString('base64url')}.${s}`;
    const cases: [string, string, RegExp][] = [
      ['changed.jws', changed, /certificate INVALID \(bad_signature\)/],
      ['truncated.jws', jws.slice(0, jws.lastIndexOf('.')), /certificate INVALID \(malformed\)/],
    ];
    for (const [name, text, expected] of cases) {
      await writeFile(path.join(dir, name), text);
      const r = await runCli(['certificate', 'verify', path.join(dir, name), '--jwks', jwksFile()], env);
      expect(r.code, name).toBe(1);
      expect(r.stdout, name).toMatch(expected);
    }
    const other = path.join(dir, 'other-jwks.json');
    await writeFile(other, JSON.stringify({ keys: [(await newSigningJwk()).publicJwk] }));
    await writeFile(path.join(dir, 'good.jws'), jws);
    const unknown = await runCli(['certificate', 'verify', path.join(dir, 'good.jws'), '--jwks', other], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toMatch(/certificate INVALID \(unknown_kid\)/);
  });
});

describe('admin checkpoint, verify and verify --checkpoint', { timeout: 180_000 }, () => {
  let size: number;

  it('checkpoint signs the settled log and saves it; verify checks it and every certificate', async () => {
    const made = await runCli(['checkpoint', '--json', '--out', checkpointFile()], env);
    expect(made.code, made.stderr).toBe(0);
    const total = Number((await asOwner((c) => c.query<{ n: string }>('select count(*) as n from events'))).rows[0]?.n);
    const cp = made.json<{ made: boolean; checkpoint: { size: number; root: string; jws: string } }>();
    expect(cp).toMatchObject({ made: true, checkpoint: { size: total } });
    size = cp.checkpoint.size;
    expect(JSON.parse(await readFile(checkpointFile(), 'utf8'))).toMatchObject({ size, root: cp.checkpoint.root });
    // Nothing new: it says so and prints the latest.
    const again = await runCli(['checkpoint'], env);
    expect(again.stdout).toMatch(/no new checkpoint: no event has settled since the latest checkpoint/);

    const verified = await runCli(['verify', '--json'], env);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.json()).toMatchObject({ ok: true, checkpointsChecked: 1, latestCheckpointSize: size, certificatesChecked: RETIRED });
    expect(await verifyAgainst(checkpointFile())).toMatchObject({ code: 0, result: { ok: true, eventsChecked: size, checkpoint: { size } } });
  });

  it("names the first event of a credit's deleted stream", async () => {
    const id = ids[2] ?? '';
    const [first] = await eventsOf(id);
    await tampered({ delete: 'credit_id = $1', params: [id] }, async () => {
      const { code, result } = await verifyAgainst(checkpointFile());
      expect(code).toBe(1);
      expect(result.inconsistencies[0]).toMatchObject({ kind: 'checkpoint_mismatch', creditId: id, position: first?.position });
      expect(result.inconsistencies[0]?.message).toMatch(/gone from the log \(deleted\)/);
      const human = await runCli(['verify', '--checkpoint', checkpointFile(), '--jwks', jwksFile()], env);
      expect(human.code).toBe(1);
      expect(human.stdout).toContain(`event ${first?.position} (credit ${id})`);
      // The full verify finds it too, against the stored checkpoint and the credit's certificate.
      const full = await runCli(['verify', '--keep-going', '--json'], env);
      const issues = full.json<{ inconsistencies: Issue[] }>().inconsistencies;
      expect(issues).toContainEqual(expect.objectContaining({ kind: 'checkpoint_mismatch', position: first?.position }));
      expect(issues).toContainEqual(expect.objectContaining({ kind: 'certificate_mismatch', creditId: id }));
    });
    expect(await verifyAgainst(checkpointFile())).toMatchObject({ code: 0, result: { ok: true } });
  });

  it("names the first of the last two events deleted from a retired credit's stream", async () => {
    const id = ids[3] ?? '';
    const events = await eventsOf(id);
    expect(events.map((e) => e.type)).toEqual(['created', 'retirement_requested', 'retired']);
    await tampered({ delete: 'credit_id = $1 and version >= 2', params: [id] }, async () => {
      const { code, result } = await verifyAgainst(checkpointFile());
      expect(code).toBe(1);
      expect(result.inconsistencies[0]).toMatchObject({ kind: 'checkpoint_mismatch', creditId: id, position: events[1]?.position });
    });
    expect(await verifyAgainst(checkpointFile())).toMatchObject({ code: 0, result: { ok: true } });
  });

  it('names the event one byte of whose payload changed', async () => {
    const id = ids[12] ?? '';
    const [created] = await eventsOf(id);
    await tampered(
      {
        edit: `update events set payload = jsonb_set(payload, '{projectName}', to_jsonb(overlay(payload->>'projectName' placing '#' from 1 for 1))) where position = $1`,
        params: [created?.position],
        restoreWhere: 'position = $1',
      },
      async () => {
        const changed = await asOwner(async (c) => (await c.query<{ q: string }>(`select payload->>'projectName' as q from events where position = $1`, [created?.position])).rows[0]?.q);
        expect(changed).toMatch(/^#/);
        const { code, result } = await verifyAgainst(checkpointFile());
        expect(code).toBe(1);
        expect(result.inconsistencies[0]).toMatchObject({ kind: 'checkpoint_mismatch', creditId: id, position: created?.position });
        expect(result.inconsistencies[0]?.message).toMatch(/the event was altered/);
      },
    );
    expect(await verifyAgainst(checkpointFile())).toMatchObject({ code: 0, result: { ok: true } });
  });

  it('refuses a checkpoint whose signature is not in the JWK Set', async () => {
    const other = path.join(dir, 'other-jwks2.json');
    await writeFile(other, JSON.stringify({ keys: [(await newSigningJwk()).publicJwk] }));
    const r = await runCli(['verify', '--checkpoint', checkpointFile(), '--jwks', other, '--json'], env);
    expect(r.code).toBe(1);
    expect(r.json<{ inconsistencies: Issue[] }>().inconsistencies[0]).toMatchObject({ kind: 'checkpoint_signature', message: expect.stringMatching(/unknown_kid/) as unknown });
  });

  it('export ends with the latest checkpoint, whose root the exported events give', async () => {
    const out = path.join(dir, 'export.jsonl');
    const r = await runCli(['export', '--format', 'jsonl', '--out', out, '--quiet'], env);
    expect(r.code, r.stderr).toBe(0);
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { hash?: string; checkpoint?: { size: number; root: string } });
    const last = lines.at(-1)?.checkpoint;
    expect(last?.size).toBe(size);
    const hashes = lines.slice(0, size).map((l) => eventLeafHash(l.hash ?? ''));
    expect(rootOf(hashes).toString('hex')).toBe(last?.root);
  });
});
