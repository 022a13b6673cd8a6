import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, ROLES, type Right, type Role } from '../../server/auth/roles.js';
import { appRouter, type AppRouter } from '../../server/trpc/root.js';
import { handleCommands, type BatchCommand } from '../../server/credits/batch-handler.js';
import { decide } from '../../server/credits/decider.js';
import { initOrm } from '../../server/db/orm.js';
import { loadEnv } from '../../server/env.js';
import { makeCheckpoint } from '../../server/proofs/checkpoint-maker.js';
import { issueCertificateOnRetirement } from '../../server/proofs/issue-certificate.js';
import { proofSettingsFromEnv } from '../../server/proofs/signing-key.js';
import { rejectionOf } from '../helpers/api-errors.js';
import { ADMIN_KEY, startTestApp, type TestApp } from '../helpers/app.js';
import { openDb, waitForSettledFeed } from '../helpers/pg.js';

/*
 * Every role × every procedure, with real keys made through keys.create, and
 * callers that must not get in at all. Keys live in the database only as hashes.
 */

type Client = TestApp['admin'];

/** The procedures, and who may call them: the ACCESS matrix of server/auth/roles.ts spelled out per procedure. */
const MATRIX = {
  'credits.create': { right: 'create', allowed: ['issuer', 'admin'] },
  'credits.createMany': { right: 'create', allowed: ['issuer', 'admin'] },
  'credits.get': { right: 'read', allowed: ['auditor', 'admin'] },
  'credits.list': { right: 'read', allowed: ['auditor', 'admin'] },
  'credits.stateAt': { right: 'read', allowed: ['auditor', 'admin'] },
  'credits.retire': { right: 'retire', allowed: ['retirer', 'admin'] },
  'credits.retirementStatus': { right: 'retirementStatus', allowed: ['retirer', 'auditor', 'admin'] },
  'events.list': { right: 'read', allowed: ['auditor', 'admin'] },
  'keys.create': { right: 'manageKeys', allowed: ['admin'] },
  'keys.list': { right: 'manageKeys', allowed: ['admin'] },
  'keys.revoke': { right: 'manageKeys', allowed: ['admin'] },
  'keys.audit': { right: 'manageKeys', allowed: ['admin'] },
  'credits.split': { right: 'split', allowed: ['issuer', 'admin'] },
  'credits.cancel': { right: 'cancel', allowed: ['issuer', 'admin'] },
  'supply.totals': { right: 'read', allowed: ['auditor', 'admin'] },
  'credits.certificate': { right: 'retirementStatus', allowed: ['retirer', 'auditor', 'admin'] },
  'checkpoints.latest': { right: 'read', allowed: ['auditor', 'admin'] },
  'checkpoints.list': { right: 'read', allowed: ['auditor', 'admin'] },
  'checkpoints.proveInclusion': { right: 'read', allowed: ['auditor', 'admin'] },
  'checkpoints.proveConsistency': { right: 'read', allowed: ['auditor', 'admin'] },
} as const satisfies Record<string, { right: Right; allowed: readonly Role[] }>;
type Procedure = keyof typeof MATRIX;

/** Fixtures the calls need, made by the admin before the matrix runs. */
type Fixtures = { creditId: string; retireId: string; partsId: string; revokeKeyId: string; certifiedId: string; checkpointSize: number };

/** One valid call per procedure, so an allowed caller gets a real answer. */
const CALLS: Record<Procedure, (c: Client, f: Fixtures) => Promise<unknown>> = {
  'credits.create': (c) =>
    c.credits.create.mutate({ projectName: 'Matrix Project', registry: 'Verra', vintage: 2020, quantity: '1', serialNumber: 'MATRIX-CREATE' }),
  'credits.createMany': (c) =>
    c.credits.createMany.mutate({
      items: [{ projectName: 'Matrix Project', registry: 'Verra', vintage: 2020, quantity: '1', serialNumber: 'MATRIX-MANY' }],
    }),
  'credits.get': (c, f) => c.credits.get.query({ id: f.creditId }),
  'credits.list': (c) => c.credits.list.query({ limit: 1 }),
  'credits.stateAt': (c, f) => c.credits.stateAt.query({ id: f.creditId, at: new Date().toISOString() }),
  'credits.retire': (c, f) => c.credits.retire.mutate({ id: f.retireId, beneficiary: 'Matrix Beneficiary' }),
  'credits.retirementStatus': (c, f) => c.credits.retirementStatus.query({ id: f.retireId }),
  'events.list': (c) => c.events.list.query({ limit: 1 }),
  'keys.create': (c) => c.keys.create.mutate({ name: 'made in the matrix', role: 'auditor' }),
  'keys.list': (c) => c.keys.list.query(),
  'keys.revoke': (c, f) => c.keys.revoke.mutate({ id: f.revokeKeyId }),
  'keys.audit': (c) => c.keys.audit.query({ limit: 1 }),
  // The same request from every allowed caller: the first carves the part, the others find it.
  'credits.split': (c, f) => c.credits.split.mutate({ id: f.partsId, quantity: '1', requestId: 'matrix-split' }),
  'credits.cancel': (c, f) => c.credits.cancel.mutate({ id: f.partsId, reason: 'matrix correction', quantity: '1', requestId: 'matrix-cancel' }),
  'supply.totals': (c) => c.supply.totals.query({}),
  'credits.certificate': (c, f) => c.credits.certificate.query({ id: f.certifiedId }),
  'checkpoints.latest': (c) => c.checkpoints.latest.query(),
  'checkpoints.list': (c) => c.checkpoints.list.query({ limit: 1 }),
  'checkpoints.proveInclusion': (c, f) => c.checkpoints.proveInclusion.query({ position: '1', checkpointSize: f.checkpointSize }),
  'checkpoints.proveConsistency': (c, f) => c.checkpoints.proveConsistency.query({ fromSize: f.checkpointSize }),
};

/** Callers that present no usable key, and what the server should say about them. */
const KEYLESS = {
  'no key': /missing API key/,
  'an unknown key': /unknown or revoked/,
  'a revoked admin key': /unknown or revoked/,
  'a non-Bearer Authorization header': /unknown or revoked/,
} as const;
type Keyless = keyof typeof KEYLESS;

const procedures = Object.keys(MATRIX) as Procedure[];
const roleCells = ROLES.flatMap((role) =>
  procedures.map((procedure) => ({
    role,
    procedure,
    expected: (MATRIX[procedure].allowed as readonly Role[]).includes(role) ? ('ok' as const) : ('FORBIDDEN' as const),
  })),
);
const keylessCells = (Object.keys(KEYLESS) as Keyless[]).flatMap((caller) => procedures.map((procedure) => ({ caller, procedure })));

let app: TestApp;
let db: Pool;
let fixtures: Fixtures;
const roleClients = new Map<Role, Client>();
const keylessClients = new Map<Keyless, Client>();

/** A client whose requests carry exactly these headers (or none). */
const rawClient = (url: string, headers: Record<string, string>) =>
  createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${url}/trpc`, headers })] });

beforeAll(async () => {
  app = await startTestApp();
  db = openDb(app.databaseUrl, 2);

  for (const role of ROLES) roleClients.set(role, (await app.as(role)).client);

  const revoked = await app.as('admin');
  await app.admin.keys.revoke.mutate({ id: revoked.keyId });
  keylessClients.set('no key', rawClient(app.url, {}));
  keylessClients.set('an unknown key', app.client(`ccl_${randomBytes(32).toString('base64url')}`));
  keylessClients.set('a revoked admin key', revoked.client);
  keylessClients.set('a non-Bearer Authorization header', rawClient(app.url, { authorization: `Basic ${ADMIN_KEY}` }));

  const credit = (serialNumber: string) =>
    app.admin.credits.create.mutate({ projectName: 'Matrix Fixture', registry: 'Verra', vintage: 2020, quantity: '5', serialNumber });
  const victim = await app.admin.keys.create.mutate({ name: 'to be revoked by the matrix', role: 'issuer' });
  // A retired credit with its certificate, and a checkpoint, as the worker makes them.
  const certifiedId = (await credit('MATRIX-CERTIFIED')).credit.id;
  await app.admin.credits.retire.mutate({ id: certifiedId, beneficiary: 'Matrix Beneficiary' });
  const orm = await initOrm(app.env.DATABASE_URL ?? '', { poolMax: 2, statementTimeoutMs: 60_000 });
  let checkpointSize: number;
  try {
    const proofs = await proofSettingsFromEnv(loadEnv(app.env));
    const retire = { creditId: certifiedId, decide: (state: Parameters<BatchCommand['decide']>[0]) => ({ events: decide({ type: 'retire', attempts: 1 }, state), actor: 'worker' }) };
    await handleCommands(orm.em.fork(), [retire], { lockTimeoutMs: 2000, now: new Date(), afterAppend: issueCertificateOnRetirement(proofs) });
    // The watermark is cluster-wide: another file's open transaction can hold these events back for a while.
    await waitForSettledFeed(app.databaseUrl);
    const made = await makeCheckpoint(orm.em.fork(), proofs);
    if (!made.made) throw new Error(`no checkpoint: ${made.reason}`);
    checkpointSize = made.checkpoint.size;
  } finally {
    await orm.close();
  }
  fixtures = {
    certifiedId,
    checkpointSize,
    creditId: (await credit('MATRIX-READ')).credit.id,
    retireId: (await credit('MATRIX-RETIRE')).credit.id,
    partsId: (await credit('MATRIX-PARTS')).credit.id,
    revokeKeyId: victim.apiKey.id,
  };
});

afterAll(async () => {
  await db?.end();
  await app?.close();
});

async function outcomeOf(call: Promise<unknown>): Promise<{ outcome: string; message?: string; httpStatus?: number }> {
  try {
    await call;
    return { outcome: 'ok' };
  } catch (err) {
    if (!(err instanceof TRPCClientError)) throw err;
    const e = err as TRPCClientError<AppRouter>;
    return { outcome: e.data?.code ?? `no code: ${e.message}`, message: e.message, ...(e.data ? { httpStatus: e.data.httpStatus } : {}) };
  }
}

describe('the access matrix', () => {
  it('spelled out here, it is exactly ACCESS in server/auth/roles.ts', () => {
    for (const { right, allowed } of Object.values(MATRIX)) expect([...allowed].sort()).toEqual([...ACCESS[right]].sort());
    const rightsUsed = new Set(Object.values(MATRIX).map((m) => m.right));
    expect([...rightsUsed].sort()).toEqual(Object.keys(ACCESS).sort());
  });

  it('covers every procedure of the router', () => {
    expect(Object.keys(appRouter._def.procedures).sort()).toEqual([...procedures].sort());
  });

  it.each(roleCells)('$role → $procedure: $expected', async ({ role, procedure, expected }) => {
    const client = roleClients.get(role);
    if (!client) throw new Error(`no client for ${role}`);
    const result = await outcomeOf(CALLS[procedure](client, fixtures));
    if (expected === 'ok') {
      expect(result).toEqual({ outcome: 'ok' });
    } else {
      expect(result).toMatchObject({ outcome: 'FORBIDDEN', httpStatus: 403 });
      expect(result.message).toContain(`role '${role}' may not ${MATRIX[procedure].right}`);
    }
  });

  it.each(keylessCells)('$caller → $procedure: UNAUTHORIZED', async ({ caller, procedure }) => {
    const client = keylessClients.get(caller);
    if (!client) throw new Error(`no client for ${caller}`);
    const result = await outcomeOf(CALLS[procedure](client, fixtures));
    expect(result).toMatchObject({ outcome: 'UNAUTHORIZED', httpStatus: 401 });
    expect(result.message).toMatch(KEYLESS[caller]);
  });
});

describe('API keys', () => {
  it('are stored only as SHA-256 hashes: no column of api_keys holds a key', async () => {
    const made = await Promise.all(ROLES.map((role) => app.admin.keys.create.mutate({ name: `hash check ${role}`, role })));
    const keys = [ADMIN_KEY, ...made.map((m) => m.key)];
    const { rows } = await db.query<Record<string, unknown>>('select * from api_keys');
    expect(rows.length).toBeGreaterThanOrEqual(made.length);

    for (const row of rows) {
      for (const value of Object.values(row)) {
        const text = value instanceof Date ? value.toISOString() : String(value);
        for (const key of keys) expect(text).not.toContain(key);
      }
    }
    for (const m of made) {
      const row = rows.find((r) => r.id === m.apiKey.id);
      expect(row?.key_hash).toBe(createHash('sha256').update(m.key, 'utf8').digest('hex'));
    }
  });

  it('keys.create shows the key once; keys.list and keys.revoke never show it', async () => {
    const made = await app.admin.keys.create.mutate({ name: `shown once ${randomUUID()}`, role: 'retirer' });
    expect(made.key).toMatch(/^ccl_[A-Za-z0-9_-]{43}$/);
    expect(made.apiKey).toEqual({
      id: expect.stringMatching(/^key_[0-9a-f]{16}$/) as unknown,
      name: expect.stringMatching(/^shown once /) as unknown,
      role: 'retirer',
      createdAt: expect.any(String) as unknown,
      createdBy: 'key_bootstrap_admin',
      revokedAt: null,
    });
    expect(Object.values(made.apiKey)).not.toContain(made.key);

    const listed = await app.admin.keys.list.query();
    expect(listed.keys).toContainEqual(made.apiKey);
    expect(JSON.stringify(listed)).not.toContain(made.key);
    for (const k of listed.keys) expect(Object.keys(k).sort()).toEqual(['createdAt', 'createdBy', 'id', 'name', 'revokedAt', 'role']);

    const revoked = await app.admin.keys.revoke.mutate({ id: made.apiKey.id });
    expect(JSON.stringify(revoked)).not.toContain(made.key);
  });

  it('a new key works at once, stops working when revoked, and a second revoke keeps the first revocation time', async () => {
    const { key, apiKey } = await app.admin.keys.create.mutate({ name: 'short-lived auditor', role: 'auditor' });
    const client = app.client(key);
    await expect(client.credits.list.query({ limit: 1 })).resolves.toMatchObject({ items: expect.any(Array) as unknown });

    const first = await app.admin.keys.revoke.mutate({ id: apiKey.id });
    expect(first.apiKey.revokedAt).toEqual(expect.any(String));
    expect((await outcomeOf(client.credits.list.query({ limit: 1 }))).outcome).toBe('UNAUTHORIZED');

    await new Promise((r) => setTimeout(r, 5));
    const second = await app.admin.keys.revoke.mutate({ id: apiKey.id });
    expect(second.apiKey.revokedAt).toBe(first.apiKey.revokedAt);

    const active = await app.admin.keys.list.query({ includeRevoked: false });
    expect(active.keys.map((k) => k.id)).not.toContain(apiKey.id);
    const all = await app.admin.keys.list.query({ includeRevoked: true });
    expect(all.keys.find((k) => k.id === apiKey.id)?.revokedAt).toBe(first.apiKey.revokedAt);
  });

  it('what a key did is attributed to its own key ID', async () => {
    const issuer = await app.as('issuer');
    const { credit } = await issuer.client.credits.create.mutate({
      projectName: 'Attributed',
      registry: 'Verra',
      vintage: 2021,
      quantity: '3',
      serialNumber: `ATTR-${randomUUID()}`,
    });
    const { events } = await app.admin.credits.get.query({ id: credit.id });
    expect(events.map((e) => e.actor)).toEqual([issuer.keyId]);
  });

  it.each<[string, string, unknown]>([
    ['an unknown role', 'role', { name: 'x', role: 'superuser' }],
    ['an empty name', 'name', { name: '  ', role: 'auditor' }],
    ['a name with a control character', 'name', { name: 'a\u0001b', role: 'auditor' }],
    ['a name of 101 characters', 'name', { name: 'n'.repeat(101), role: 'auditor' }],
  ])('keys.create refuses %s, naming %s; nothing stored', async (_name, path, input) => {
    const count = async () => (await db.query<{ n: string }>('select count(*) as n from api_keys')).rows[0]?.n;
    const before = await count();
    const err = await rejectionOf(app.admin.keys.create.mutate(input as never));
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.data?.issues?.map((i) => i.path)).toEqual([path]);
    expect(await count()).toBe(before);
  });

  it.each([
    ['a malformed key ID', 'BAD_REQUEST', 'bootstrap'],
    ['an unknown key ID', 'NOT_FOUND', 'key_0123456789abcdef'],
  ])('keys.revoke with %s → %s', async (_name, code, id) => {
    expect((await outcomeOf(app.admin.keys.revoke.mutate({ id }))).outcome).toBe(code);
  });
});
