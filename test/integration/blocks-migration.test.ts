import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { canonicalRegistry, canonicalSerial, creditId } from '../../server/credits/canonical-id.js';
import { eventHash } from '../../server/credits/event-hash.js';
import type { CreditEvent, CreditFields } from '../../server/credits/events.js';
import { migrate } from '../../server/db/migrate.js';
import { initOrm } from '../../server/db/orm.js';
import { OWNER_ROLE } from '../../server/dev/ledger-roles.js';
import { serveTestApp, type TestApp } from '../helpers/app.js';
import { cliEnv, runCli } from '../helpers/cli-run.js';
import { withPgClient } from '../helpers/pg.js';
import { databaseUrl, quoteIdent, testRedisPrefix } from '../helpers/test-db.js';

/*
 * The blocks migration over a ledger written before it: credits and events
 * stay as they were (no history is rewritten), credits whose Verra or Gold
 * Standard serial spells their quantity get their units, verify finds the
 * ledger consistent, and the API works on them. Credits from before that
 * share units stop the migration, naming them.
 */

const BEFORE_BLOCKS = 'Migration20261201000300_feed_watermark';
const T = new Date('2025-06-01T10:00:00.000Z');

const databases: string[] = [];
const apps: TestApp[] = [];

afterAll(async () => {
  for (const app of apps) await app.close();
  await withPgClient(inject('pgAdminUrl'), async (c) => {
    for (const name of databases) await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  });
});

/** A new database migrated up to just before blocks, as a ledger deployed before them would be. */
async function ledgerBeforeBlocks() {
  const name = `t_pre_blocks_${randomBytes(5).toString('hex')}`;
  databases.push(name);
  await withPgClient(inject('pgAdminUrl'), (c) => c.query(`CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(OWNER_ROLE)}`));
  const urls = {
    admin: databaseUrl(inject('pgAdminUrl'), name),
    owner: databaseUrl(inject('pgOwnerUrl'), name),
    app: databaseUrl(inject('pgAppUrl'), name),
  };
  const orm = await initOrm(urls.owner, { poolMax: 2, statementTimeoutMs: null });
  try {
    await orm.getMigrator().up({ to: BEFORE_BLOCKS });
  } finally {
    await orm.close(true);
  }
  return urls;
}

type Legacy = { fields: CreditFields; retired?: boolean };

/** Writes credits the way the ledger did before blocks: hash-chained events and their projection rows. */
async function writeLegacy(url: string, credits: Legacy[]): Promise<string[]> {
  return withPgClient(url, async (c) => {
    const ids: string[] = [];
    for (const { fields, retired } of credits) {
      const id = creditId(fields);
      ids.push(id);
      const events: CreditEvent[] = [{ type: 'created', data: fields }];
      if (retired) {
        events.push({ type: 'retirement_requested', data: { beneficiary: 'Legacy Buyer', reason: null } });
        events.push({ type: 'retired', data: { beneficiary: 'Legacy Buyer', reason: null, requestedBy: 'key_legacy', requestedAt: T.toISOString(), attempts: 1 } });
      }
      let prevHash: string | null = null;
      for (const [i, e] of events.entries()) {
        const stored = { ...e, creditId: id, version: i + 1, actor: 'key_legacy', occurredAt: T, prevHash };
        const hash = eventHash(stored);
        await c.query(`insert into events (credit_id, version, type, payload, actor, occurred_at, prev_hash, hash) values ($1, $2, $3, $4, $5, $6, $7, $8)`, [
          id,
          i + 1,
          e.type,
          JSON.stringify(e.data),
          'key_legacy',
          T,
          prevHash,
          hash,
        ]);
        prevHash = hash;
      }
      await c.query(
        `insert into credits (id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key, status, retirement_state, created_at, retired_at, version)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          id,
          fields.projectName,
          fields.registry,
          fields.vintage,
          fields.quantity,
          fields.serialNumber,
          canonicalRegistry(fields.registry),
          canonicalSerial(fields.serialNumber),
          retired ? 'retired' : 'active',
          retired ? 'retired' : 'none',
          T,
          retired ? T : null,
          events.length,
        ],
      );
    }
    return ids;
  });
}

const legacy = (serialNumber: string, quantity: string, registry = 'Verra'): CreditFields => ({ projectName: 'Legacy Hydro', registry, vintage: 2018, quantity, serialNumber });

describe('the blocks migration over credits recorded before it', () => {
  it('keeps every event, gives units to credits whose serial spells their quantity, and leaves a ledger verify finds consistent', async () => {
    const urls = await ledgerBeforeBlocks();
    const [verraBlock, mismatched, goldStandard, amountOnly] = await writeLegacy(urls.admin, [
      { fields: legacy('19298-935995787-935996396-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0', '610') },
      // A serial in Verra's format whose range does not count its quantity: it stays amount-only.
      { fields: legacy('19299-1-18-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0', '5') },
      { fields: legacy('GS1-1-TR-GS7652-12-2025-29983-1-5085', '5085', 'Gold Standard'), retired: true },
      { fields: legacy('VCS-LEGACY-001', '12.5') },
    ]);
    const eventsBefore = await withPgClient(urls.admin, async (c) => (await c.query<{ position: string; hash: string }>(`select position, hash from events order by position`)).rows);

    // The blocks migration first, then the migrations that came after it (readiness, …).
    const applied = await migrate(urls.owner);
    expect(applied[0]).toBe('Migration20261201000400_blocks');
    expect(applied.slice(1).every((name) => name > 'Migration20261201000400_blocks')).toBe(true);

    const rows = await withPgClient(urls.admin, async (c) => (await c.query<{ id: string; unit_first: string | null; unit_last: string | null; block_key: string | null }>(`select id, unit_first, unit_last, block_key from credits`)).rows);
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(verraBlock ?? '')).toMatchObject({ unit_first: '935995787', unit_last: '935996396', block_key: '19298-vcs-vcu-1491-ver-br-1-513-01012018-31122018-0' });
    expect(byId.get(goldStandard ?? '')).toMatchObject({ unit_first: '1', unit_last: '5085', block_key: 'gs1-1-tr-gs7652-12-2025-29983' });
    expect(byId.get(mismatched ?? '')).toMatchObject({ unit_first: null, unit_last: null, block_key: null });
    expect(byId.get(amountOnly ?? '')).toMatchObject({ unit_first: null, unit_last: null, block_key: null });
    // History is untouched.
    expect(await withPgClient(urls.admin, async (c) => (await c.query<{ position: string; hash: string }>(`select position, hash from events order by position`)).rows)).toEqual(eventsBefore);

    const app = await serveTestApp({ databaseUrl: urls.admin, appDatabaseUrl: urls.app, redisUrl: inject('redisUrl'), prefix: testRedisPrefix() });
    apps.push(app);
    const verify = await runCli(['verify', '--json'], cliEnv(app));
    expect(verify.json()).toMatchObject({ ok: true, inconsistencies: [] });

    // The legacy block is a block now: it splits, and its units are held.
    const { credit: part, parent } = await app.admin.credits.split.mutate({ id: verraBlock ?? '', quantity: '18', requestId: 'after-migration' });
    expect(part.serialNumber).toBe('19298-935995787-935995804-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0');
    expect(parent.unitRange).toEqual({ first: 935995805, last: 935996396 });
    const overlapping = await app.admin.credits.create
      .mutate({ ...legacy('19298-935996000-935996500-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0', '501'), projectName: 'Someone Else' })
      .catch((err: unknown) => err as { data?: { code?: string; details?: unknown } });
    expect(overlapping).toMatchObject({ data: { code: 'CONFLICT', details: { existingId: verraBlock, overlap: { first: 935996000, last: 935996396 } } } });
    const retiredBlock = await app.admin.credits.get.query({ id: goldStandard ?? '' });
    expect(retiredBlock.credit).toMatchObject({ status: 'retired', unitRange: { first: 1, last: 5085 } });
    expect((await app.admin.credits.get.query({ id: mismatched ?? '' })).credit.unitRange).toBeNull();
    expect((await app.admin.supply.totals.query({})).issued).toBe('5712.5');
    expect((await runCli(['verify', '--json'], cliEnv(app))).json()).toMatchObject({ ok: true });
  });

  it('stops, naming them, when credits recorded before it share units', async () => {
    const urls = await ledgerBeforeBlocks();
    const [whole, part] = await writeLegacy(urls.admin, [
      { fields: legacy('19298-935995787-935996396-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0', '610') },
      { fields: legacy('19298-935995787-935995804-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0', '18') },
      { fields: legacy('GS1-1-TR-GS7652-12-2025-29983-1-5085', '5085', 'Gold Standard') },
    ]);
    const err = await migrate(urls.owner).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toContain('hold the same units');
    for (const id of [whole, part]) expect(message).toContain(id);
    expect(message).toContain('share units 935995787…935995804');
    // All or nothing: the migration is not recorded, and the credits are as they were.
    const state = await withPgClient(urls.admin, async (c) => ({
      applied: (await c.query(`select name from mikro_orm_migrations where name like '%blocks'`)).rowCount,
      hasUnits: (await c.query(`select 1 from information_schema.columns where table_name = 'credits' and column_name = 'unit_first'`)).rowCount,
    }));
    expect(state).toEqual({ applied: 0, hasUnits: 0 });
  });
});
