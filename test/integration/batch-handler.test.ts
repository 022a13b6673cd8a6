import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleCommands, type BatchCommand } from '../../server/credits/batch-handler.js';
import { decide } from '../../server/credits/decider.js';
import { DomainError } from '../../server/credits/errors.js';
import { initOrm, type Orm } from '../../server/db/orm.js';
import { loadEnv } from '../../server/env.js';
import { issueCertificateOnRetirement } from '../../server/proofs/issue-certificate.js';
import { proofSettingsFromEnv, type ProofSettings } from '../../server/proofs/signing-key.js';
import { verifyCertificate } from '../../client/index.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { cliEnv, runCli } from '../helpers/cli-run.js';
import { openDb, withPgClient } from '../helpers/pg.js';
import { createCredits } from '../helpers/retirement-e2e.js';

/*
 * The worker's batch path (server/credits/batch-handler.ts) against real
 * PostgreSQL: several credits in one transaction, each locked, decided and
 * recorded on its own; what it cannot lock at once it hands back untouched.
 */

let app: TestApp;
let orm: Orm;
let db: Pool;
let proofs: ProofSettings;
const opts = () => ({ lockTimeoutMs: 2000, now: new Date() });

beforeAll(async () => {
  app = await startTestApp();
  orm = await initOrm(app.env.DATABASE_URL ?? '', { poolMax: 4, statementTimeoutMs: 60_000 });
  db = openDb(app.databaseUrl, 4);
  proofs = await proofSettingsFromEnv(loadEnv(app.env));
});

afterAll(async () => {
  await db?.end();
  await orm?.close();
  await app?.close();
});

/** Credits with a pending retirement request each, as the worker finds them. */
async function pendingCredits(count: number): Promise<string[]> {
  const ids = await createCredits(app.admin, count);
  for (const id of ids) await app.admin.credits.retire.mutate({ id, beneficiary: 'Batch Co' });
  return ids;
}

const retire = (creditId: string): BatchCommand => ({
  creditId,
  decide: (state) => ({ events: decide({ type: 'retire', attempts: 1 }, state), actor: 'worker' }),
});

/** Each credit's certificate row, whether its writing transaction (xmin) is its `retired` event's, and that event's hash. */
async function certificatesOf(ids: string[]) {
  const { rows } = await db.query<{ credit_id: string; jws: string; retired_hash: string; event_hash: string; same_tx: boolean }>(
    `select c.credit_id, c.jws, c.retired_hash, e.hash as event_hash,
            c.xmin::text = (e.tx_id::text::numeric % 4294967296)::text as same_tx
     from retirement_certificates c join events e on e.position = c.retired_position and e.type = 'retired'
     where c.credit_id = any($1) order by c.credit_id`,
    [ids],
  );
  return rows;
}

async function eventsOf(id: string) {
  const { rows } = await db.query<{ type: string; tx_id: string }>('select type, tx_id::text from events where credit_id = $1 order by version', [id]);
  return rows;
}

describe('handleCommands', () => {
  it('retires several credits in one transaction, each with its own events and projection row', async () => {
    const ids = await pendingCredits(5);
    const outcomes = await handleCommands(orm.em.fork(), ids.map(retire), opts());
    expect(outcomes.map((o) => o.kind)).toEqual(Array(5).fill('handled'));
    const txIds = new Set<string>();
    for (const [i, id] of ids.entries()) {
      const outcome = outcomes[i];
      if (outcome?.kind !== 'handled') throw new Error('not handled');
      expect(outcome.handled.appended.map((e) => [e.creditId, e.type, e.version])).toEqual([[id, 'retired', 3]]);
      expect(outcome.handled.after.status).toBe('retired');
      const events = await eventsOf(id);
      expect(events.map((e) => e.type)).toEqual(['created', 'retirement_requested', 'retired']);
      txIds.add(events[2]?.tx_id ?? '');
      expect((await app.admin.credits.get.query({ id })).credit.status).toBe('retired');
    }
    // One writing transaction for all five: one commit.
    expect(txIds.size).toBe(1);
  });

  it('hands back a credit locked elsewhere without waiting for it, and does the rest', async () => {
    const ids = await pendingCredits(3);
    const holder = await db.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from credits where id = $1 for update', [ids[1]]);
      const started = Date.now();
      const outcomes = await handleCommands(orm.em.fork(), ids.map(retire), { ...opts(), lockTimeoutMs: 10_000 });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(outcomes.map((o) => o.kind)).toEqual(['handled', 'alone', 'handled']);
      expect((await eventsOf(ids[1] ?? '')).map((e) => e.type)).toEqual(['created', 'retirement_requested']);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
  });

  it('a command a rule refuses writes nothing for its credit; the others are recorded', async () => {
    const ids = await pendingCredits(3);
    const refusing: BatchCommand = {
      creditId: ids[0] ?? '',
      decide: () => {
        throw new DomainError('ALREADY_RETIRED', 'refused for the test');
      },
    };
    const outcomes = await handleCommands(orm.em.fork(), [refusing, retire(ids[1] ?? ''), retire(ids[2] ?? '')], opts());
    expect(outcomes[0]).toMatchObject({ kind: 'refused', error: { code: 'ALREADY_RETIRED' } });
    expect(outcomes.slice(1).map((o) => o.kind)).toEqual(['handled', 'handled']);
    expect((await eventsOf(ids[0] ?? '')).map((e) => e.type)).toEqual(['created', 'retirement_requested']);
  });

  it('writes nothing at all when one write fails: the batch is one transaction', async () => {
    const ids = await pendingCredits(3);
    const failing: BatchCommand = {
      creditId: ids[2] ?? '',
      // Two `retired` events in one stream: the database's one-retired index refuses the whole statement.
      decide: (state) => {
        const [retired] = decide({ type: 'retire', attempts: 1 }, state);
        if (!retired) throw new Error('expected a retired event');
        return { events: [retired, retired], actor: 'worker' };
      },
    };
    await expect(handleCommands(orm.em.fork(), [retire(ids[0] ?? ''), retire(ids[1] ?? ''), failing], opts())).rejects.toThrow();
    for (const id of ids) expect((await eventsOf(id)).map((e) => e.type)).toEqual(['created', 'retirement_requested']);
  });

  it('hands back a credit without a projection row (for handleCommand to rebuild) and mends a row that disagrees with its events', async () => {
    const [gone, edited, untouched] = await pendingCredits(3);
    await db.query(`delete from credits where id = $1`, [gone]);
    await db.query(`update credits set retirement_state = 'none' where id = $1`, [edited]);
    // Nothing to decide: an empty decision on each.
    const idle = (creditId: string): BatchCommand => ({ creditId, decide: () => ({ events: [], actor: 'worker' }) });
    const outcomes = await handleCommands(orm.em.fork(), [idle(gone ?? ''), idle(edited ?? ''), idle(untouched ?? '')], opts());
    expect(outcomes[0]).toEqual({ kind: 'alone' });
    expect(outcomes[1]).toMatchObject({ kind: 'handled', handled: { appended: [], projectionRepaired: true } });
    expect(outcomes[2]).toMatchObject({ kind: 'handled', handled: { appended: [], projectionRepaired: false } });
    const { rows } = await db.query<{ retirement_state: string }>('select retirement_state from credits where id = $1', [edited]);
    expect(rows[0]?.retirement_state).toBe('pending');
  });

  it('refuses a batch that names a credit twice', async () => {
    const [id] = await pendingCredits(1);
    await expect(handleCommands(orm.em.fork(), [retire(id ?? ''), retire(id ?? '')], opts())).rejects.toThrow(/each credit once/);
  });

  it("signs every retired credit's certificate in the batch's own transaction, with its `retired` event", async () => {
    const ids = await pendingCredits(6);
    const outcomes = await handleCommands(orm.em.fork(), ids.map(retire), { ...opts(), afterAppend: issueCertificateOnRetirement(proofs) });
    expect(outcomes.map((o) => o.kind)).toEqual(Array(6).fill('handled'));
    const rows = await certificatesOf(ids);
    expect(rows.map((r) => r.credit_id)).toEqual([...ids].sort());
    for (const row of rows) {
      expect(row.same_tx, row.credit_id).toBe(true);
      expect(row.retired_hash).toBe(row.event_hash);
      const checked = await verifyCertificate(row.jws, proofs.jwks);
      expect(checked).toMatchObject({ ok: true, kid: proofs.signer.kid, certificate: { creditId: row.credit_id, beneficiary: 'Batch Co', retiredEvent: { hash: row.event_hash } } });
    }
  });

  it('commits no retirement and no certificate when signing fails for one credit of the batch', async () => {
    const ids = await pendingCredits(3);
    const issue = issueCertificateOnRetirement(proofs);
    const afterAppend: typeof issue = async (tx, appended, after) => {
      await issue(tx, appended, after);
      if (after.id === ids[1]) throw new Error('the signer is unavailable');
    };
    await expect(handleCommands(orm.em.fork(), ids.map(retire), { ...opts(), afterAppend })).rejects.toThrow(/signer is unavailable/);
    expect(await certificatesOf(ids)).toEqual([]);
    for (const id of ids) expect((await eventsOf(id)).map((e) => e.type)).toEqual(['created', 'retirement_requested']);
  });
});

describe('handleCommands: parts of blocks', () => {
  // A ledger of its own: the tests above edit rows behind the ledger's back, and `verify` here must find nothing wrong.
  let ledger: TestApp;
  let ledgerOrm: Orm;
  beforeAll(async () => {
    ledger = await startTestApp();
    ledgerOrm = await initOrm(ledger.env.DATABASE_URL ?? '', { poolMax: 4, statementTimeoutMs: 60_000 });
  });
  afterAll(async () => {
    await ledgerOrm?.close();
    await ledger?.close();
  });

  /** The registry's records of three consecutive retirements of one issuance each (public records, as in issue 10). */
  const VERRA_PARTS = [
    { quantity: '18', serial: '19298-935995787-935995804-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0' },
    { quantity: '526', serial: '19298-935995805-935996330-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0' },
    { quantity: '66', serial: '19298-935996331-935996396-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0' },
  ];
  const GS_PARTS = [
    { quantity: '5085', serial: 'GS1-1-TR-GS7652-12-2025-29983-1-5085' },
    { quantity: '1247', serial: 'GS1-1-TR-GS7652-12-2025-29983-5086-6332' },
  ];
  const block = (serialNumber: string, quantity: string, extra: Record<string, unknown> = {}) => ({
    projectName: 'Batched Blocks',
    registry: 'Verra',
    vintage: 2018,
    quantity,
    serialNumber,
    ...extra,
  });

  it('retires parts of several blocks in one transaction: each part keeps its units and serial, each block what is left', async () => {
    // A Verra block one unit larger than the three retirements, a Gold Standard block, one with units given, one amount-only.
    const { credit: verra } = await ledger.admin.credits.create.mutate(block('19298-935995787-935996397-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0', '611'));
    const { credit: gs } = await ledger.admin.credits.create.mutate(block('GS1-1-TR-GS7652-12-2025-29983-1-6630', '6630', { registry: 'Gold Standard' }));
    const { credit: ranged } = await ledger.admin.credits.create.mutate(block('BATCH-UNITS-1', '100', { unitRange: { first: 1000, last: 1099 } }));
    const { credit: amount } = await ledger.admin.credits.create.mutate(block('BATCH-AMOUNT-1', '10.5'));

    const retirePart = (id: string, quantity: string, requestId: string) =>
      ledger.admin.credits.retire.mutate({ id, beneficiary: 'Batch Buyer', quantity, requestId });
    // Requested one after the other (each carves the parent's next lowest units); the worker's batch retires them together.
    const parts: { creditId: string; partOf?: string | undefined }[] = [];
    for (const [i, p] of VERRA_PARTS.entries()) parts.push(await retirePart(verra.id, p.quantity, `verra-${i}`));
    for (const [i, p] of GS_PARTS.entries()) parts.push(await retirePart(gs.id, p.quantity, `gs-${i}`));
    parts.push(await retirePart(ranged.id, '30', 'ranged-0'));
    parts.push(await retirePart(amount.id, '2.25', 'amount-0'));
    expect(parts.map((p) => p.partOf)).toEqual([verra.id, verra.id, verra.id, gs.id, gs.id, ranged.id, amount.id]);
    const partIds = parts.map((p) => p.creditId);
    expect(new Set(partIds).size).toBe(7);
    const before = await ledger.admin.supply.totals.query({ projectName: 'Batched Blocks' });
    expect(before).toMatchObject({ issued: '7351.5', active: '7351.5', retired: '0', pendingRetirement: '6974.25', cancelled: '0' });

    const outcomes = await handleCommands(ledgerOrm.em.fork(), partIds.map(retire), opts());
    expect(outcomes.map((o) => o.kind)).toEqual(Array(7).fill('handled'));

    // One commit for all seven parts.
    const { rows: txs } = await withPgClient(ledger.databaseUrl, (c) => c.query<{ n: string }>(`select count(distinct tx_id) as n from events where type = 'retired' and credit_id = any($1)`, [partIds]));
    expect(txs[0]?.n).toBe('1');

    const got = await Promise.all(partIds.map(async (id) => (await ledger.admin.credits.get.query({ id })).credit));
    expect(got.map((c) => [c.status, c.quantity, c.serialNumber, c.parentId])).toEqual([
      ...VERRA_PARTS.map((p) => ['retired', p.quantity, p.serial, verra.id]),
      ...GS_PARTS.map((p) => ['retired', p.quantity, p.serial, gs.id]),
      ['retired', '30', expect.stringMatching(/^BATCH-UNITS-1\/split-[0-9a-f]{12}$/), ranged.id],
      ['retired', '2.25', expect.stringMatching(/^BATCH-AMOUNT-1\/split-[0-9a-f]{12}$/), amount.id],
    ]);
    expect(got.map((c) => c.unitRange)).toEqual([
      { first: 935995787, last: 935995804 },
      { first: 935995805, last: 935996330 },
      { first: 935996331, last: 935996396 },
      { first: 1, last: 5085 },
      { first: 5086, last: 6332 },
      { first: 1000, last: 1029 },
      null,
    ]);

    // The blocks themselves were not touched by the batch: still active, each with what is left after its parts.
    const blocks = await Promise.all([verra, gs, ranged, amount].map(async ({ id }) => (await ledger.admin.credits.get.query({ id })).credit));
    expect(blocks.map((c) => [c.status, c.quantity, c.unitRange, c.serialNumber])).toEqual([
      ['active', '1', { first: 935996397, last: 935996397 }, '19298-935996397-935996397-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0'],
      ['active', '298', { first: 6333, last: 6630 }, 'GS1-1-TR-GS7652-12-2025-29983-6333-6630'],
      ['active', '70', { first: 1030, last: 1099 }, 'BATCH-UNITS-1'],
      ['active', '8.25', null, 'BATCH-AMOUNT-1'],
    ]);

    // Counted once: the parts moved from pending to retired, nothing was issued or lost.
    expect(await ledger.admin.supply.totals.query({ projectName: 'Batched Blocks' })).toMatchObject({ issued: '7351.5', active: '377.25', retired: '6974.25', pendingRetirement: '0', cancelled: '0' });

    // The same batch again (a stalled job re-run) records nothing more.
    const again = await handleCommands(ledgerOrm.em.fork(), partIds.map(retire), opts());
    expect(again.map((o) => (o.kind === 'handled' ? o.handled.appended.length : o.kind))).toEqual(Array(7).fill(0));

    // Every unit is retired at most once, and each block's parts tile it: verify finds nothing wrong.
    const verified = await runCli(['verify', '--json'], cliEnv(ledger));
    expect(verified.code).toBe(0);
  });
});
