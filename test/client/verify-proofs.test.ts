import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventLeafHash, verifyCertificate, verifyCheckpoint, verifyConsistencyProof, verifyInclusionProof } from '../../client/index.js';
import { certificateOf, signCertificate, signPayload, type RetirementCertificate } from '../../server/proofs/certificate.js';
import { CHECKPOINT_TYP, type CheckpointPayload } from '../../server/proofs/checkpoint.js';
import { jwksOf, parsePreviousPublicKeys } from '../../server/proofs/jwks.js';
import { consistencyProof, eventLeafHash as serverLeafHash, inclusionProof, rootOf } from '../../server/proofs/merkle.js';
import { importSigningKey, type SigningKey } from '../../server/proofs/signing-key.js';
import type { StoredEvent } from '../../server/credits/events.js';
import type { CreditState } from '../../server/credits/state.js';
import { newSigningJwk } from '../helpers/signing-keys.js';

/*
 * What a holder of a certificate or a checkpoint can check offline with the
 * client alone, and every way a forged or damaged one is refused.
 */

const newKey = async (): Promise<SigningKey> => importSigningKey((await newSigningJwk()).privateJwk);

const retiredAt = new Date('2026-11-26T08:00:33.438Z');
const state = {
  status: 'retired',
  id: `cc_${'ab'.repeat(32)}`,
  fields: { projectName: 'Kasigau Corridor REDD+', registry: 'Verra', vintage: 2021, quantity: '18', serialNumber: '19298-935995787-935995804-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0' },
  createdAt: new Date('2026-11-20T00:00:00Z'),
  version: 3,
  quantity: '18',
  units: { first: 935995787, last: 935995804 },
  blockKey: '19298-vcs-vcu-1491-ver-br-1-513-01012018-31122018-0',
  parentId: null,
  splits: new Map(),
  retirement: { beneficiary: 'Acme Corp', reason: 'FY2026 scope 1', requestedBy: 'key_0123456789abcdef', requestedAt: new Date('2026-11-26T08:00:30Z'), retiredAt, retiredBy: 'key_0123456789abcdef', attempts: 1 },
} as Extract<CreditState, { status: 'retired' }>;
const event = { type: 'retired', creditId: state.id, position: '42', hash: 'cd'.repeat(32) } as StoredEvent;
const certificate: RetirementCertificate = certificateOf(state, event, 'https://ledger.example.org');

/** The JWS with one byte of its payload changed (still valid base64url, still JSON). */
function tamperedPayload(jws: string): string {
  const [h, p, s] = jws.split('.') as [string, string, string];
  const json = Buffer.from(p, 'base64url').toString('utf8').replace('Acme Corp', 'Acme Corq');
  return `${h}.${Buffer.from(json).toString('base64url')}.${s}`;
}

describe('verifyCertificate (client, offline)', () => {
  it('names the key that signed a certificate and gives back what it certifies', async () => {
    const key = await newKey();
    const jws = await signCertificate(certificate, key);
    const r = await verifyCertificate(jws, jwksOf(key.publicJwk, []));
    expect(r).toEqual({ ok: true, kid: key.kid, certificate });
    expect(certificate).toMatchObject({
      kind: 'retirement-certificate/v1',
      iss: 'https://ledger.example.org',
      serialNumber: state.fields.serialNumber,
      unitRange: { first: 935995787, last: 935995804 },
      quantity: '18',
      beneficiary: 'Acme Corp',
      retiredAt: retiredAt.toISOString(),
      retiredEvent: { position: '42', hash: 'cd'.repeat(32) },
    });
    // The JWK Set may come as its JSON text, as /.well-known/jwks.json serves it.
    expect((await verifyCertificate(jws, JSON.stringify(jwksOf(key.publicJwk, [])))).ok).toBe(true);
  });

  it('refuses a tampered payload byte, another key, an unknown kid, a truncated JWS and a checkpoint, each naming why', async () => {
    const key = await newKey();
    const other = await newKey();
    const jwks = jwksOf(key.publicJwk, []);
    const jws = await signCertificate(certificate, key);

    const tampered = await verifyCertificate(tamperedPayload(jws), jwks);
    expect(tampered).toMatchObject({ ok: false, reason: 'bad_signature', kid: key.kid });
    // A flipped signature byte too.
    const sig = jws.slice(jws.lastIndexOf('.') + 1);
    const flipped = `${jws.slice(0, jws.lastIndexOf('.') + 1)}${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    expect(await verifyCertificate(flipped, jwks)).toMatchObject({ ok: false, reason: 'bad_signature' });

    // Signed by another key that claims to be ours.
    const impostor = await signCertificate(certificate, { ...other, kid: key.kid });
    expect(await verifyCertificate(impostor, jwks)).toMatchObject({ ok: false, reason: 'bad_signature', kid: key.kid });

    // Signed by a key we never published.
    const unknown = await verifyCertificate(await signCertificate(certificate, other), jwks);
    expect(unknown).toMatchObject({ ok: false, reason: 'unknown_kid', kid: other.kid });
    expect(unknown.ok ? '' : unknown.message).toContain(other.kid);

    for (const cut of [jws.slice(0, jws.length - 10), jws.slice(0, jws.lastIndexOf('.')), jws.slice(0, 30), '', 'not.a.jws!']) {
      expect(await verifyCertificate(cut, jwks), JSON.stringify(cut)).toMatchObject({ ok: false, reason: expect.stringMatching(/malformed|bad_signature/) as unknown });
    }
    expect(await verifyCertificate(jws.slice(0, jws.lastIndexOf('.')), jwks)).toMatchObject({ ok: false, reason: 'malformed' });

    const checkpoint: CheckpointPayload = { kind: 'checkpoint/v1', iss: 'x', size: 1, root: 'ab'.repeat(32), cursor: '1-1', issuedAt: retiredAt.toISOString() };
    expect(await verifyCertificate(await signPayload(checkpoint, CHECKPOINT_TYP, key), jwks)).toMatchObject({ ok: false, reason: 'wrong_type' });
    await expect(verifyCertificate(jws, { nope: true })).rejects.toThrow(TypeError);
  });

  it('keeps certificates of a rotated-out key valid through LEDGER_PREVIOUS_PUBLIC_KEYS, and only through it', async () => {
    const old = await newKey();
    const current = await newKey();
    const oldCertificate = await signCertificate(certificate, old);
    const newCertificate = await signCertificate({ ...certificate, creditId: `cc_${'ef'.repeat(32)}` }, current);
    const previous = await parsePreviousPublicKeys(JSON.stringify({ keys: [{ kty: 'OKP', crv: 'Ed25519', x: old.publicJwk.x }] }));
    const rotated = jwksOf(current.publicJwk, previous);
    expect(await verifyCertificate(oldCertificate, rotated)).toMatchObject({ ok: true, kid: old.kid });
    expect(await verifyCertificate(newCertificate, rotated)).toMatchObject({ ok: true, kid: current.kid });
    expect(await verifyCertificate(oldCertificate, jwksOf(current.publicJwk, []))).toMatchObject({ ok: false, reason: 'unknown_kid' });
  });
});

describe('checkpoint proofs (client, offline)', () => {
  const leaves = Array.from({ length: 40 }, (_, i) => Buffer.from(`event ${i}`).toString('hex').padEnd(64, '0').slice(0, 64));
  const leafHashes = leaves.map(serverLeafHash);
  const root = (n: number) => rootOf(leafHashes.slice(0, n)).toString('hex');
  const hex = (hs: Buffer[]) => hs.map((h) => h.toString('hex'));

  it('verifyCheckpoint checks the signature and the type', async () => {
    const key = await newKey();
    const payload: CheckpointPayload = { kind: 'checkpoint/v1', iss: 'x', size: 40, root: root(40), cursor: '7-40', issuedAt: retiredAt.toISOString() };
    const jws = await signPayload(payload, CHECKPOINT_TYP, key);
    expect(await verifyCheckpoint(jws, jwksOf(key.publicJwk, []))).toEqual({ ok: true, kid: key.kid, checkpoint: payload });
    expect(await verifyCheckpoint(await signCertificate(certificate, key), jwksOf(key.publicJwk, []))).toMatchObject({ ok: false, reason: 'wrong_type' });
  });

  it('agrees with the server on leaf hashes and on every inclusion and consistency proof', async () => {
    expect(await eventLeafHash(leaves[3] as string)).toBe(serverLeafHash(leaves[3] as string).toString('hex'));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 39 }), fc.integer({ min: 0, max: 40 }), async (size, i, from) => {
        const index = i % size;
        const proof = hex(inclusionProof(leafHashes, index, size));
        const good = await verifyInclusionProof({ eventHash: leaves[index] as string, leafIndex: index, treeSize: size, proof, root: root(size) });
        const wrongEvent = await verifyInclusionProof({ eventHash: leaves[(index + 1) % 40] as string, leafIndex: index, treeSize: size, proof, root: root(size) });
        const m = Math.min(from, size);
        const cproof = hex(consistencyProof(leafHashes, m, size));
        const consistent = await verifyConsistencyProof({ fromSize: m, fromRoot: root(m), toSize: size, toRoot: root(size), proof: cproof });
        const forged = m > 0 && m < size && (await verifyConsistencyProof({ fromSize: m, fromRoot: root(m), toSize: size, toRoot: root(size), proof: cproof.map((h, j) => (j === 0 ? h.replace(/^./, h[0] === 'a' ? 'b' : 'a') : h)) }));
        return good && !wrongEvent && consistent && !forged;
      }),
      { numRuns: 200 },
    );
  });
});
