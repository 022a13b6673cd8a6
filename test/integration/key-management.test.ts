import type { Pool } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { BOOTSTRAP_ADMIN_ID, hashKey } from '../../server/auth/api-keys.js';
import { rejectionOf } from '../helpers/api-errors.js';
import { ADMIN_KEY, startTestApp, type TestApp } from '../helpers/app.js';
import { openDb } from '../helpers/pg.js';

/*
 * The bootstrap admin key can be retired, no admin can revoke the last
 * active admin key, and every key change leaves an append-only audit line.
 * Each test gets its own database: retiring the bootstrap key is for good.
 */

let app: TestApp | null = null;
let db: Pool | null = null;

async function fresh(env: Record<string, string> = {}) {
  app = await startTestApp(env);
  db = openDb(app.databaseUrl, 2);
  return { app, db };
}

afterEach(async () => {
  await db?.end();
  await app?.close();
  app = null;
  db = null;
});

const codeOf = async (call: Promise<unknown>) => (await rejectionOf(call)).data?.code;

describe('the bootstrap admin key', () => {
  it('cannot be revoked while it is the only admin key', async () => {
    const { app } = await fresh();
    const err = await rejectionOf(app.admin.keys.revoke.mutate({ id: BOOTSTRAP_ADMIN_ID }));
    expect(err.data?.code).toBe('CONFLICT');
    expect(err.message).toMatch(/last active admin key; create another admin key/);
    expect((await app.admin.keys.list.query()).keys).toEqual([]);
  });

  it('is retired for good by keys.revoke once another admin key exists; that key goes on working', async () => {
    const { app } = await fresh();
    const admin2 = await app.as('admin');
    const { apiKey } = await admin2.client.keys.revoke.mutate({ id: BOOTSTRAP_ADMIN_ID });
    expect(apiKey).toMatchObject({ id: BOOTSTRAP_ADMIN_ID, role: 'admin', createdBy: 'environment', revokedAt: expect.any(String) as unknown });

    expect(await codeOf(app.admin.keys.list.query())).toBe('UNAUTHORIZED');
    expect(await codeOf(app.admin.credits.list.query({ limit: 1 }))).toBe('UNAUTHORIZED');
    const listed = await admin2.client.keys.list.query();
    expect(listed.keys.find((k) => k.id === BOOTSTRAP_ADMIN_ID)?.revokedAt).toBe(apiKey.revokedAt);
    // Revoking again keeps the first time.
    expect((await admin2.client.keys.revoke.mutate({ id: BOOTSTRAP_ADMIN_ID })).apiKey.revokedAt).toBe(apiKey.revokedAt);
  });

  it('is refused when BOOTSTRAP_ADMIN_KEY_ENABLED=false, even though ADMIN_API_KEY is set', async () => {
    const { app } = await fresh({ BOOTSTRAP_ADMIN_KEY_ENABLED: 'false' });
    expect(await codeOf(app.admin.keys.list.query())).toBe('UNAUTHORIZED');
    expect(app.env.ADMIN_API_KEY).toBe(ADMIN_KEY);
  });

  it('NOT_FOUND, saying why, when this process has no bootstrap key to revoke', async () => {
    const { app, db } = await fresh({ BOOTSTRAP_ADMIN_KEY_ENABLED: 'false' });
    // With the bootstrap key off, the first admin key has to come from somewhere else: here, straight into the table.
    const key = 'ccl_test_only_admin_key_made_in_sql_0123456789';
    await db.query(`insert into api_keys (id, name, role, key_hash, created_at, created_by) values ('key_00000000000000aa', 'sql admin', 'admin', $1, now(), 'test')`, [
      hashKey(key),
    ]);
    const err = await rejectionOf(app.client(key).keys.revoke.mutate({ id: BOOTSTRAP_ADMIN_ID }));
    expect(err.data?.code).toBe('NOT_FOUND');
    expect(err.message).toMatch(/no bootstrap key \(ADMIN_API_KEY is unset or BOOTSTRAP_ADMIN_KEY_ENABLED=false\)/);
  });
});

describe('the last active admin key', () => {
  it('an admin cannot revoke the last one, itself included; with two, one may go', async () => {
    const { app } = await fresh();
    const a = await app.as('admin');
    await a.client.keys.revoke.mutate({ id: BOOTSTRAP_ADMIN_ID });
    const self = await rejectionOf(a.client.keys.revoke.mutate({ id: a.keyId }));
    expect(self.data?.code).toBe('CONFLICT');
    expect(self.message).toContain(a.keyId);

    const { key: bKey, apiKey: b } = await a.client.keys.create.mutate({ name: 'second admin', role: 'admin' });
    expect((await app.client(bKey).keys.revoke.mutate({ id: a.keyId })).apiKey.revokedAt).not.toBeNull();
    expect(await codeOf(app.client(bKey).keys.revoke.mutate({ id: b.id }))).toBe('CONFLICT');
    // Keys of other roles can always be revoked.
    const auditor = await app.client(bKey).keys.create.mutate({ name: 'auditor', role: 'auditor' });
    expect((await app.client(bKey).keys.revoke.mutate({ id: auditor.apiKey.id })).apiKey.revokedAt).not.toBeNull();
  });

  it('two admins revoking each other at the same instant: exactly one succeeds', async () => {
    const { app, db } = await fresh();
    const a = await app.as('admin');
    const b = await app.as('admin');
    await a.client.keys.revoke.mutate({ id: BOOTSTRAP_ADMIN_ID });
    const outcomes = await Promise.allSettled([a.client.keys.revoke.mutate({ id: b.keyId }), b.client.keys.revoke.mutate({ id: a.keyId })]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const { rows } = await db.query<{ n: string }>(`select count(*) as n from api_keys where role = 'admin' and revoked_at is null`);
    expect(Number(rows[0]?.n)).toBe(1);
  });
});

describe('keys.audit', () => {
  it('records who created and revoked which key, when, in order; the trail cannot be edited', async () => {
    const { app, db } = await fresh();
    const before = new Date().toISOString();
    const issuer = await app.as('issuer');
    const a = await app.as('admin');
    await a.client.keys.revoke.mutate({ id: issuer.keyId });
    await a.client.keys.revoke.mutate({ id: BOOTSTRAP_ADMIN_ID });

    const { entries, nextCursor } = await a.client.keys.audit.query();
    expect(nextCursor).toBeNull();
    expect(entries.map((e) => [e.action, e.keyId, e.keyRole, e.actor])).toEqual([
      ['created', issuer.keyId, 'issuer', BOOTSTRAP_ADMIN_ID],
      ['created', a.keyId, 'admin', BOOTSTRAP_ADMIN_ID],
      ['revoked', issuer.keyId, 'issuer', a.keyId],
      ['revoked', BOOTSTRAP_ADMIN_ID, 'admin', a.keyId],
    ]);
    for (const e of entries) expect(e.at >= before).toBe(true);
    const firstPage = await a.client.keys.audit.query({ limit: 3 });
    expect(firstPage.entries).toHaveLength(3);
    expect((await a.client.keys.audit.query({ cursor: firstPage.nextCursor ?? '', limit: 3 })).entries).toEqual(entries.slice(3));

    await expect(db.query(`update api_key_audit set actor = 'someone else'`)).rejects.toThrow(/append-only/);
    await expect(db.query(`delete from api_key_audit`)).rejects.toThrow(/append-only/);
    await expect(db.query(`truncate api_key_audit`)).rejects.toThrow(/append-only/);
    expect(await codeOf(issuer.client.keys.audit.query())).toBe('UNAUTHORIZED');
  });
});
