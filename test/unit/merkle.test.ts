import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  consistencyProof,
  consistencyRanges,
  EMPTY_ROOT,
  eventLeafHash,
  inclusionProof,
  inclusionRanges,
  leafHash,
  nodeHash,
  RangeHashes,
  rootOf,
  splitPoint,
  TreeFold,
  type Hash,
} from '../../server/proofs/merkle.js';
import { verifyConsistencyProof, verifyLeafInclusion } from '../../client/verify-proofs.js';

const hex = (h: Uint8Array) => Buffer.from(h).toString('hex');
const unhex = (s: string) => Buffer.from(s, 'hex');

// The proofs are checked by what the published client ships (client/verify-proofs.ts), the only verifier there is.
const verifyInclusion = (leaf: Uint8Array, index: number, size: number, proof: Uint8Array[], root: Uint8Array) =>
  verifyLeafInclusion({ leafHash: hex(leaf), leafIndex: index, treeSize: size, proof: proof.map(hex), root: hex(root) });
const verifyConsistency = (from: number, to: number, fromRoot: Uint8Array, toRoot: Uint8Array, proof: Uint8Array[]) =>
  verifyConsistencyProof({ fromSize: from, fromRoot: hex(fromRoot), toSize: to, toRoot: hex(toRoot), proof: proof.map(hex) });

// The Certificate Transparency reference tree (RFC 6962): these eight leaves, and the root of each prefix.
const CT_DATA = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(unhex);
const CT_LEAVES = CT_DATA.map(leafHash);
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_INCLUSION = [
  { index: 0, size: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { index: 5, size: 8, proof: ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
  { index: 0, size: 1, proof: [] },
];
const CT_CONSISTENCY = [
  { from: 2, to: 8, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { from: 6, to: 8, proof: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
  { from: 2, to: 5, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
  { from: 1, to: 1, proof: [] },
];

/** Leaves 0…n-1 of a bigger test tree. */
const many = (n: number): Hash[] => Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
const MANY = many(70);
const ROOTS = Array.from({ length: MANY.length + 1 }, (_, n) => rootOf(MANY.slice(0, n)));

const flipped = (proof: Hash[], i: number): Hash[] => proof.map((p, j) => (j === i ? Buffer.from(p.map((b, k) => (k === 7 ? b ^ 1 : b))) : p));

/** The streaming way: every leaf goes by once. */
function streamed(leaves: Hash[], ranges: { start: number; end: number }[]): Hash[] {
  const r = new RangeHashes(ranges);
  for (let i = 0; i < r.leavesNeeded; i++) r.push(i, leaves[i] as Hash);
  return r.hashes();
}

describe('RFC 6962 Merkle tree: Certificate Transparency reference vectors', () => {
  it('hashes leaves with 0x00 and nodes with 0x01, and the empty tree as SHA-256 of nothing', () => {
    expect(hex(EMPTY_ROOT)).toBe(CT_ROOTS[0]);
    expect(hex(leafHash(Buffer.alloc(0)))).toBe(CT_ROOTS[1]);
    expect(hex(nodeHash(CT_LEAVES[0] as Hash, CT_LEAVES[1] as Hash))).toBe(CT_ROOTS[2]);
  });

  it('splits at the largest power of two below the size', () => {
    expect([2, 3, 4, 5, 8, 9, 1000].map(splitPoint)).toEqual([1, 2, 2, 4, 4, 8, 512]);
    expect(() => splitPoint(1)).toThrow(RangeError);
  });

  it('gives the reference root of every prefix, in memory and folded one leaf at a time', () => {
    const fold = new TreeFold();
    expect(hex(fold.root())).toBe(CT_ROOTS[0]);
    for (let n = 1; n <= 8; n++) {
      expect(hex(rootOf(CT_LEAVES.slice(0, n))), `size ${n}`).toBe(CT_ROOTS[n]);
      fold.push(CT_LEAVES[n - 1] as Hash);
      expect(hex(fold.root()), `folded size ${n}`).toBe(CT_ROOTS[n]);
    }
  });

  it('gives the reference inclusion proofs, and they verify', async () => {
    for (const v of CT_INCLUSION) {
      expect(inclusionProof(CT_LEAVES, v.index, v.size).map(hex)).toEqual(v.proof);
      expect(await verifyInclusion(CT_LEAVES[v.index] as Hash, v.index, v.size, v.proof.map(unhex), unhex(CT_ROOTS[v.size] as string))).toBe(true);
    }
  });

  it('gives the reference consistency proofs, and they verify', async () => {
    for (const v of CT_CONSISTENCY) {
      expect(consistencyProof(CT_LEAVES, v.from, v.to).map(hex)).toEqual(v.proof);
      expect(await verifyConsistency(v.from, v.to, unhex(CT_ROOTS[v.from] as string), unhex(CT_ROOTS[v.to] as string), v.proof.map(unhex))).toBe(true);
    }
  });

  it("takes an event's stored hash as its leaf data (the 32 bytes), and nothing else", () => {
    const h = 'ab'.repeat(32);
    expect(eventLeafHash(h).equals(leafHash(Buffer.from(h, 'hex')))).toBe(true);
    expect(() => eventLeafHash('AB'.repeat(32))).toThrow(TypeError);
    expect(() => eventLeafHash('ab')).toThrow(TypeError);
  });
});

describe('RFC 6962 Merkle tree: every shape', () => {
  it('folds every size to the recursive definition, and resumes from a frontier', () => {
    for (let n = 0; n <= MANY.length; n++) {
      const fold = new TreeFold();
      MANY.slice(0, n).forEach((l) => fold.push(l));
      expect(fold.root().equals(ROOTS[n] as Hash), `size ${n}`).toBe(true);
      const resumed = TreeFold.resume(n, fold.frontier());
      MANY.slice(n).forEach((l) => resumed.push(l));
      expect(resumed.root().equals(ROOTS[MANY.length] as Hash), `resumed at ${n}`).toBe(true);
    }
    expect(() => TreeFold.resume(5, [])).toThrow(RangeError);
  });

  it('verifies every inclusion proof of every size, streamed or not, and rejects every altered one', async () => {
    for (let n = 1; n <= MANY.length; n++) {
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(MANY, i, n);
        expect(streamed(MANY, inclusionRanges(i, n)).map(hex)).toEqual(proof.map(hex));
        const root = ROOTS[n] as Hash;
        const leaf = MANY[i] as Hash;
        expect(await verifyInclusion(leaf, i, n, proof, root), `${i} of ${n}`).toBe(true);
        // Another leaf, index or root (the size comes signed with the root), or any altered, missing or extra proof hash: refused.
        expect(await verifyInclusion(MANY[(i + 1) % MANY.length] as Hash, i, n, proof, root)).toBe(false);
        if (n > 1) expect(await verifyInclusion(leaf, (i + 1) % n, n, proof, root)).toBe(false);
        expect(await verifyInclusion(leaf, i, n, proof, ROOTS[n - 1] as Hash)).toBe(false);
        for (let j = 0; j < proof.length; j++) expect(await verifyInclusion(leaf, i, n, flipped(proof, j), root)).toBe(false);
        if (proof.length > 0) expect(await verifyInclusion(leaf, i, n, proof.slice(0, -1), root)).toBe(false);
        expect(await verifyInclusion(leaf, i, n, [...proof, Buffer.alloc(32, 0xab)], root)).toBe(false);
      }
    }
    expect(await verifyInclusion(MANY[0] as Hash, 1, 1, [], ROOTS[1] as Hash)).toBe(false);
    expect(await verifyInclusion(MANY[0] as Hash, -1, 1, [], ROOTS[1] as Hash)).toBe(false);
    expect(await verifyInclusion(Buffer.alloc(31), 0, 1, [], ROOTS[1] as Hash)).toBe(false);
  });

  it('verifies every consistency proof between every pair of sizes, streamed or not, and rejects every altered one', async () => {
    for (let to = 0; to <= MANY.length; to++) {
      for (let from = 0; from <= to; from++) {
        const proof = consistencyProof(MANY, from, to);
        expect(streamed(MANY, consistencyRanges(from, to)).map(hex)).toEqual(proof.map(hex));
        const [r1, r2] = [ROOTS[from] as Hash, ROOTS[to] as Hash];
        expect(await verifyConsistency(from, to, r1, r2, proof), `${from} → ${to}`).toBe(true);
        if (from === to || from === 0) continue;
        for (let j = 0; j < proof.length; j++) expect(await verifyConsistency(from, to, r1, r2, flipped(proof, j))).toBe(false);
        expect(await verifyConsistency(from, to, r1, r2, proof.slice(0, -1))).toBe(false);
        expect(await verifyConsistency(from, to, r1, r2, [...proof, Buffer.alloc(32, 0xcd)])).toBe(false);
        expect(await verifyConsistency(from, to, ROOTS[from - 1] as Hash, r2, proof)).toBe(false);
        expect(await verifyConsistency(from, to, r1, ROOTS[to - 1] as Hash, proof)).toBe(false);
      }
    }
    expect(await verifyConsistency(4, 4, ROOTS[4] as Hash, ROOTS[5] as Hash, [])).toBe(false);
    expect(await verifyConsistency(5, 4, ROOTS[5] as Hash, ROOTS[4] as Hash, [])).toBe(false);
    expect(await verifyConsistency(0, 8, ROOTS[1] as Hash, ROOTS[8] as Hash, [])).toBe(false);
  });

  it('a tree whose old part changed is not consistent with its old root', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 1, max: 10 }), async (from, at, grow) => {
        const to = Math.min(MANY.length, from + grow);
        const i = at % from;
        const altered = MANY.slice(0, to).map((l, j) => (j === i ? leafHash(Buffer.from('forged')) : l));
        return !(await verifyConsistency(from, to, ROOTS[from] as Hash, rootOf(altered), consistencyProof(altered, from, to)));
      }),
    );
  });
});
