import type { LedgerOutputs } from './ledger-client.js';
import { verifyLedgerJws, type VerificationFailure } from './verify-jws.js';

/*
 * Checking the ledger's checkpoints and their proofs offline. A checkpoint is
 * a signed RFC 6962 tree head over the first `size` events of the feed; each
 * leaf is an event's SHA-256 (its `hash`, 64 hex digits, as 32 bytes), so
 * leaf hash = SHA-256(0x00 || those bytes) and node = SHA-256(0x01 || left ||
 * right). The proof checks are RFC 9162 §2.1.3.2 and §2.1.4.2, on WebCrypto.
 */

type Checkpoint = NonNullable<LedgerOutputs['checkpoints']['latest']['checkpoint']>;
/**
 * What a checkpoint's JWS signs: the fields the API shows, less the key's ID and the JWS, plus the kind and
 * the issuer (server/proofs/checkpoint.ts; test/client/types.test.ts proves the two the same).
 */
export type CheckpointPayload = Flat<{ kind: 'checkpoint/v1'; iss: string } & Omit<Checkpoint, 'kid' | 'jws'>>;
type Flat<T> = { [K in keyof T]: T[K] };

const CHECKPOINT_TYP = 'ledger-checkpoint+jws';

export type CheckpointVerification = { ok: true; kid: string; checkpoint: CheckpointPayload } | VerificationFailure;

const isCheckpoint = (p: unknown): p is CheckpointPayload => {
  const c = p as Partial<Record<keyof CheckpointPayload, unknown>> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    c.kind === 'checkpoint/v1' &&
    typeof c.iss === 'string' &&
    Number.isSafeInteger(c.size) &&
    typeof c.root === 'string' &&
    /^[0-9a-f]{64}$/.test(c.root) &&
    typeof c.cursor === 'string' &&
    typeof c.issuedAt === 'string'
  );
};

/** Checks a checkpoint's signature against the ledger's JWK Set; its payload is trusted only if this says ok. */
export async function verifyCheckpoint(jws: string, jwks: unknown): Promise<CheckpointVerification> {
  const r = await verifyLedgerJws(jws, jwks, { typ: CHECKPOINT_TYP, what: 'checkpoint', isPayload: isCheckpoint });
  return r.ok ? { ok: true, kid: r.kid, checkpoint: r.payload } : r;
}

const fromHex = (hex: string): Uint8Array | null => {
  if (!/^[0-9a-f]{64}$/.test(hex)) return null;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
};

const sha256 = async (...parts: Uint8Array[]): Promise<Uint8Array> => {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', all));
};
const node = (l: Uint8Array, r: Uint8Array) => sha256(Uint8Array.of(1), l, r);
const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
const EMPTY_ROOT_HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The leaf hash of an event: SHA-256(0x00 || the 32 bytes of its hash). */
export async function eventLeafHash(eventHash: string): Promise<string> {
  const bytes = fromHex(eventHash);
  if (!bytes) throw new TypeError('an event hash is 64 lowercase hex digits');
  return [...(await sha256(Uint8Array.of(0), bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Is the event whose hash is `eventHash` leaf `leafIndex` of the checkpoint
 * with `treeSize` and `root`? (checkpoints.proveInclusion gives the proof;
 * compute `eventHash` from the event yourself to check its contents too.)
 */
export async function verifyInclusionProof(p: { eventHash: string; leafIndex: number; treeSize: number; proof: string[]; root: string }): Promise<boolean> {
  const bytes = fromHex(p.eventHash);
  if (!bytes) return false;
  return includes(await sha256(Uint8Array.of(0), bytes), p);
}

/**
 * The same check for a leaf hash of any data (RFC 9162 §2.1.3.2): what
 * verifyInclusionProof does once it has hashed the event into its leaf.
 */
export async function verifyLeafInclusion(p: { leafHash: string; leafIndex: number; treeSize: number; proof: string[]; root: string }): Promise<boolean> {
  const leaf = fromHex(p.leafHash);
  return leaf !== null && includes(leaf, p);
}

async function includes(leaf: Uint8Array, p: { leafIndex: number; treeSize: number; proof: string[]; root: string }): Promise<boolean> {
  const root = fromHex(p.root);
  const proof = p.proof.map(fromHex);
  if (!root || proof.some((h) => !h)) return false;
  if (!Number.isSafeInteger(p.leafIndex) || !Number.isSafeInteger(p.treeSize) || p.leafIndex < 0 || p.leafIndex >= p.treeSize) return false;
  let fn = p.leafIndex;
  let sn = p.treeSize - 1;
  let r = leaf;
  for (const h of proof as Uint8Array[]) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await node(h, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await node(r, h);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

/** Does the checkpoint (toSize, toRoot) only add events to (fromSize, fromRoot)? (checkpoints.proveConsistency gives the proof.) */
export async function verifyConsistencyProof(p: { fromSize: number; fromRoot: string; toSize: number; toRoot: string; proof: string[] }): Promise<boolean> {
  const r1 = fromHex(p.fromRoot);
  const r2 = fromHex(p.toRoot);
  const proof = p.proof.map(fromHex);
  const { fromSize: m, toSize: n } = p;
  if (!r1 || !r2 || proof.some((h) => !h)) return false;
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m > n) return false;
  if (m === 0) return proof.length === 0 && p.fromRoot === EMPTY_ROOT_HEX;
  if (m === n) return proof.length === 0 && equal(r1, r2);
  if (proof.length === 0) return false;
  let pow = 1;
  while (pow < m) pow *= 2;
  const path = (pow === m ? [r1, ...proof] : proof) as Uint8Array[];
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0] as Uint8Array;
  let sr = path[0] as Uint8Array;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = await node(c, fr);
      sr = await node(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = await node(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(fr, r1) && equal(sr, r2);
}
