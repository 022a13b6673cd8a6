import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRPCClientError } from '@trpc/client';
import { verifyCertificate, verifyCheckpoint, verifyConsistencyProof, verifyInclusionProof } from '../../client/index.js';
import { handleCommands, type BatchCommand } from '../../server/credits/batch-handler.js';
import { handleCommand } from '../../server/credits/command-handler.js';
import { decide } from '../../server/credits/decider.js';
import { initOrm, type Orm } from '../../server/db/orm.js';
import { loadEnv } from '../../server/env.js';
import { makeCheckpoint } from '../../server/proofs/checkpoint-maker.js';
import { issueCertificateOnRetirement } from '../../server/proofs/issue-certificate.js';
import { proofSettingsFromEnv, type ProofSettings } from '../../server/proofs/signing-key.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { openDb, waitForSettledFeed, withPgClient } from '../helpers/pg.js';
import { createCredits } from '../helpers/retirement-e2e.js';

/*
 * The proofs through the API against real PostgreSQL: credits.certificate,
 * the public JWK Set and retirement page, checkpoints with their inclusion
 * and consistency proofs (checked with the client's offline verifiers), and
 * checkpoints made while writers run.
 */

let app: TestApp;
let orm: Orm;
let db: Pool;
let proofs: ProofSettings;

beforeAll(async () => {
  app = await startTestApp();
  orm = await initOrm(app.env.DATABASE_URL ?? '', { poolMax: 6, statementTimeoutMs: 60_000 });
  db = openDb(app.databaseUrl, 4);
  proofs = await proofSettingsFromEnv(loadEnv(app.env));
});

afterAll(async () => {
  await db?.end();
  await orm?.close();
  await app?.close();
});

const retire = (creditId: string): BatchCommand => ({
  creditId,
  decide: (state) => ({ events: decide({ type: 'retire', attempts: 1 }, state), actor: 'worker' }),
});

/** Requests and applies the retirement of `count` new credits, as the worker does (certificates included). */
async function retiredCredits(count: number, beneficiary = 'Acme Corp'): Promise<string[]> {
  const ids = await createCredits(app.admin, count);
  for (const id of ids) await app.admin.credits.retire.mutate({ id, beneficiary, reason: 'FY2026 scope 1' });
  const outcomes = await handleCommands(orm.em.fork(), ids.map(retire), { lockTimeoutMs: 2000, now: new Date(), afterAppend: issueCertificateOnRetirement(proofs) });
  expect(outcomes.map((o) => o.kind)).toEqual(Array(count).fill('handled'));
  return ids;
}

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);

describe('credits.certificate and the public keys', () => {
  it("a partial retirement's certificate names the part: its units, the registry's serial of them, and the block it came from", async () => {
    const serial = `GS1-1-TR-GS7652-12-2025-${29000 + Math.floor(Math.random() * 900)}-1-5085`;
    const { credit: block } = await app.admin.credits.create.mutate({ projectName: 'Cookstoves Ghana', registry: 'Gold Standard', vintage: 2025, quantity: '5085', serialNumber: serial });
    const answer = await app.admin.credits.retire.mutate({ id: block.id, beneficiary: 'Acme Corp', quantity: '1247', requestId: 'cert-part-1' });
    expect(answer.partOf).toBe(block.id);
    const outcomes = await handleCommands(orm.em.fork(), [retire(answer.creditId)], { lockTimeoutMs: 2000, now: new Date(), afterAppend: issueCertificateOnRetirement(proofs) });
    expect(outcomes.map((o) => o.kind)).toEqual(['handled']);
    const { jws, certificate } = await app.admin.credits.certificate.query({ id: answer.creditId });
    const jwks = (await (await fetch(`${app.url}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
    expect(await verifyCertificate(jws, jwks)).toMatchObject({ ok: true });
    expect(certificate).toMatchObject({
      creditId: answer.creditId,
      quantity: '1247',
      unitRange: { first: 1, last: 1247 },
      serialNumber: serial.replace(/-1-5085$/, '-1-1247'),
      beneficiary: 'Acme Corp',
    });
    // The block keeps the rest and has no certificate of its own.
    expect((await app.admin.credits.get.query({ id: block.id })).credit).toMatchObject({ quantity: '3838', status: 'active' });
    expect(codeOf(await app.admin.credits.certificate.query({ id: block.id }).catch((e: unknown) => e))).toBe('NOT_FOUND');
  });

  it('is NOT_FOUND until the credit is retired, then gives the JWS that verifies with /.well-known/jwks.json', async () => {
    const [pending] = await createCredits(app.admin, 1);
    await app.admin.credits.retire.mutate({ id: pending ?? '', beneficiary: 'Acme Corp' });
    const notYet = await app.admin.credits.certificate.query({ id: pending ?? '' }).catch((e: unknown) => e);
    expect(codeOf(notYet)).toBe('NOT_FOUND');

    const [id] = await retiredCredits(1);
    const jwksRes = await fetch(`${app.url}/.well-known/jwks.json`);
    expect(jwksRes.headers.get('content-type')).toMatch(/application\/jwk-set\+json/);
    const jwks = (await jwksRes.json()) as { keys: { kid: string; d?: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual([proofs.signer.kid]);
    expect(jwks.keys.some((k) => 'd' in k)).toBe(false);

    for (const role of ['retirer', 'auditor'] as const) {
      const { client } = await app.as(role);
      const { jws, certificate } = await client.credits.certificate.query({ id: id ?? '' });
      expect(await verifyCertificate(jws, jwks)).toEqual({ ok: true, kid: proofs.signer.kid, certificate });
      expect(certificate).toMatchObject({ creditId: id, beneficiary: 'Acme Corp', reason: 'FY2026 scope 1', iss: proofs.issuer });
    }
    const { client: issuer } = await app.as('issuer');
    expect(codeOf(await issuer.credits.certificate.query({ id: id ?? '' }).catch((e: unknown) => e))).toBe('FORBIDDEN');
  });
});

describe('the public retirement page', () => {
  it('shows a retired credit without a key, with its JWS and kid, and nothing from elsewhere', async () => {
    const [id] = await retiredCredits(1, 'Stadt Beispiel <GmbH>');
    const { jws } = await app.admin.credits.certificate.query({ id: id ?? '' });
    const res = await fetch(`${app.url}/retirements/${id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await res.text();
    expect(html).toContain(jws);
    expect(html).toContain(proofs.signer.kid);
    expect(html).toContain('Stadt Beispiel &lt;GmbH&gt;');
    expect(html).not.toMatch(/<script|<link|@import|src=|https?:\/\/(?!ledger)/i);
  });

  it('gives the same 404 page for unknown, malformed and unretired IDs', async () => {
    const [pending] = await createCredits(app.admin, 1);
    const pages = await Promise.all([`cc_${'0'.repeat(64)}`, 'nope', pending].map(async (id) => {
      const res = await fetch(`${app.url}/retirements/${id}`);
      return { status: res.status, body: await res.text() };
    }));
    expect(pages.map((p) => p.status)).toEqual([404, 404, 404]);
    expect(new Set(pages.map((p) => p.body)).size).toBe(1);
    expect(pages[0]?.body).not.toContain(pending);
  });

  it('is switched off by PUBLIC_RETIREMENTS=false; the JWK Set stays', async () => {
    const closed = await startTestApp({ PUBLIC_RETIREMENTS: 'false' });
    try {
      const [id] = await createCredits(closed.admin, 1);
      expect((await fetch(`${closed.url}/retirements/${id}`)).status).toBe(404);
      expect((await fetch(`${closed.url}/.well-known/jwks.json`)).status).toBe(200);
    } finally {
      await closed.close();
    }
  });
});

describe('checkpoints and their proofs', () => {
  it('lists signed checkpoints; inclusion and consistency proofs verify offline, and stop verifying once the log is altered', async () => {
    await retiredCredits(4);
    // The watermark is cluster-wide: another file's open transaction can hold these events back for a while.
    await waitForSettledFeed(app.databaseUrl);
    const first = await makeCheckpoint(orm.em.fork(), proofs);
    if (!first.made) throw new Error(`no checkpoint: ${first.reason}`);
    await retiredCredits(7);
    await waitForSettledFeed(app.databaseUrl);
    const second = await makeCheckpoint(orm.em.fork(), proofs);
    if (!second.made) throw new Error(`no checkpoint: ${second.reason}`);

    const { checkpoint: latest } = await app.admin.checkpoints.latest.query();
    expect(latest).toEqual(second.checkpoint);
    expect((await app.admin.checkpoints.list.query({})).items.map((c) => c.size)).toEqual([second.checkpoint.size, first.checkpoint.size]);
    expect(await verifyCheckpoint(second.checkpoint.jws, proofs.jwks)).toMatchObject({ ok: true, checkpoint: { size: second.checkpoint.size, root: second.checkpoint.root } });

    // An event past position 9, so a text order of positions would show.
    const { rows } = await db.query<{ position: string }>(`select position::text from events where position >= 12 order by position limit 1`);
    const position = rows[0]?.position ?? '';
    const inclusion = await app.admin.checkpoints.proveInclusion.query({ position });
    const includes = () =>
      verifyInclusionProof({ eventHash: inclusion.event.hash, leafIndex: inclusion.leafIndex, treeSize: second.checkpoint.size, proof: inclusion.proof, root: second.checkpoint.root });
    expect(await includes()).toBe(true);
    const consistency = await app.admin.checkpoints.proveConsistency.query({ fromSize: first.checkpoint.size });
    expect(
      await verifyConsistencyProof({ fromSize: first.checkpoint.size, fromRoot: first.checkpoint.root, toSize: second.checkpoint.size, toRoot: second.checkpoint.root, proof: consistency.proof }),
    ).toBe(true);

    // Someone with the database's keys rewrites an early event's hash: the proofs the log now gives fail.
    const setHash = (sql: string) =>
      withPgClient(app.databaseUrl, async (c) => {
        await c.query('begin');
        await c.query('alter table events disable trigger events_immutable');
        await c.query(sql);
        await c.query('alter table events enable trigger events_immutable');
        await c.query('commit');
      });
    const original = (await db.query<{ hash: string }>('select hash from events where position = 2')).rows[0]?.hash ?? '';
    await setHash(`update events set hash = md5(hash) || md5(md5(hash)) where position = 2`);
    const altered = await app.admin.checkpoints.proveInclusion.query({ position });
    expect(await verifyInclusionProof({ eventHash: altered.event.hash, leafIndex: altered.leafIndex, treeSize: second.checkpoint.size, proof: altered.proof, root: second.checkpoint.root })).toBe(false);
    const alteredConsistency = await app.admin.checkpoints.proveConsistency.query({ fromSize: first.checkpoint.size });
    expect(
      await verifyConsistencyProof({ fromSize: first.checkpoint.size, fromRoot: first.checkpoint.root, toSize: second.checkpoint.size, toRoot: second.checkpoint.root, proof: alteredConsistency.proof }),
    ).toBe(false);
    await setHash(`update events set hash = '${original}' where position = 2`);
    expect(await includes()).toBe(true);
  });

  it('made while writers run, never covers an event that later appears before its frontier', async () => {
    const ids = await createCredits(app.admin, 24);
    for (const id of ids) await app.admin.credits.retire.mutate({ id, beneficiary: 'Race Co' });
    let writing = true;
    const made: { size: number; root: string }[] = [];
    // Writers: retirements one at a time, each holding its transaction open a while (it began before the checkpoint
    // that runs meanwhile, and commits after it), and new credits created alongside.
    const writers = [
      (async () => {
        for (const id of ids) {
          await handleCommand(orm.em.fork(), id, retire(id).decide, {
            lockTimeoutMs: 5000,
            now: new Date(),
            afterLock: () => new Promise((r) => setTimeout(r, 40)),
            afterAppend: issueCertificateOnRetirement(proofs),
          });
        }
      })(),
      // Creates go on until the checkpointer has made several, so the race is exercised even while another file's
      // open transaction holds the (cluster-wide) watermark back for a while.
      (async () => {
        const until = Date.now() + 60_000;
        for (let i = 0; i < 6 || (made.length < 4 && Date.now() < until); i++) await createCredits(app.admin, 3);
      })(),
    ];
    const checkpointer = (async () => {
      while (writing) {
        const outcome = await makeCheckpoint(orm.em.fork(), proofs);
        if (outcome.made) made.push(outcome.checkpoint);
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    await Promise.all(writers);
    writing = false;
    await checkpointer;
    await waitForSettledFeed(app.databaseUrl);
    const last = await makeCheckpoint(orm.em.fork(), proofs);
    if (last.made) made.push(last.checkpoint);
    expect(made.length).toBeGreaterThan(3);

    // Every checkpoint is still a prefix of the log: each root recomputed from the log now, and each one consistent
    // with the next.
    const { rows } = await db.query<{ hash: string }>(`select hash from events order by tx_id, position`);
    const { rootOf, eventLeafHash } = await import('../../server/proofs/merkle.js');
    const leaves = rows.map((r) => eventLeafHash(r.hash));
    for (const cp of made) expect(rootOf(leaves.slice(0, cp.size)).toString('hex'), `checkpoint ${cp.size}`).toBe(cp.root);
    for (const [i, cp] of made.slice(1).entries()) {
      const from = made[i] as { size: number; root: string };
      const { proof } = await app.admin.checkpoints.proveConsistency.query({ fromSize: from.size, toSize: cp.size });
      expect(await verifyConsistencyProof({ fromSize: from.size, fromRoot: from.root, toSize: cp.size, toRoot: cp.root, proof }), `${from.size} → ${cp.size}`).toBe(true);
    }
  });
});
