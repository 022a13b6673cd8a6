import { createHash } from 'node:crypto';

/*
 * The Merkle tree of RFC 6962 (Certificate Transparency; RFC 9162 §2.1),
 * pure and with no I/O:
 *
 *   MTH({})        = SHA-256()
 *   MTH({d0})      = SHA-256(0x00 || d0)                      (a leaf)
 *   MTH(D[0:n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])),
 *                    k the largest power of two smaller than n (a node)
 *
 * Roots are folded in constant memory (a stack of subtree roots, at most one
 * per bit of the size); proofs name the ranges of leaves whose subtree hashes
 * they need, so a caller can compute them by streaming the leaves once.
 */

export type Hash = Buffer;

const sha256 = (...parts: Uint8Array[]): Hash => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

const LEAF = Uint8Array.of(0x00);
const NODE = Uint8Array.of(0x01);

/** The root of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT: Hash = sha256();

export const leafHash = (data: Uint8Array): Hash => sha256(LEAF, data);
export const nodeHash = (left: Uint8Array, right: Uint8Array): Hash => sha256(NODE, left, right);

/** The ledger's leaf: an event's stored SHA-256 (64 hex digits), as its 32 bytes. */
export function eventLeafHash(eventHashHex: string): Hash {
  if (!/^[0-9a-f]{64}$/.test(eventHashHex)) throw new TypeError(`an event hash is 64 lowercase hex digits, got ${JSON.stringify(eventHashHex)}`);
  return leafHash(Buffer.from(eventHashHex, 'hex'));
}

/** The largest power of two smaller than n (n ≥ 2): where RFC 6962 splits a tree of n leaves. */
export function splitPoint(n: number): number {
  if (!Number.isSafeInteger(n) || n < 2) throw new RangeError(`a tree of ${n} leaves has no split`);
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isHash = (h: unknown): h is Uint8Array => h instanceof Uint8Array && h.length === 32;

/**
 * The root of a tree grown one leaf at a time, in memory proportional to
 * log2(size): the stack holds the roots of the perfect subtrees that the
 * size's binary digits describe, largest (leftmost) first. That stack — the
 * frontier — is all that is needed to carry on growing the tree later.
 */
export class TreeFold {
  private stack: { hash: Hash; size: number }[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Carries on from a frontier that `frontier()` gave for a tree of `size` leaves. */
  static resume(size: number, frontier: Hash[]): TreeFold {
    const sizes: number[] = [];
    for (let bit = 2 ** 52; bit >= 1; bit /= 2) if (Math.floor(size / bit) % 2 === 1) sizes.push(bit);
    if (sizes.length !== frontier.length || !frontier.every(isHash)) throw new RangeError(`a frontier of ${frontier.length} hashes does not describe a tree of ${size} leaves`);
    const fold = new TreeFold();
    fold.stack = frontier.map((hash, i) => ({ hash: Buffer.from(hash), size: sizes[i] ?? 0 }));
    fold.count = size;
    return fold;
  }

  /** Adds the next leaf, given as its leaf hash (leafHash(data)). */
  push(leaf: Uint8Array): void {
    if (!isHash(leaf)) throw new TypeError('a leaf hash is 32 bytes');
    let top: { hash: Hash; size: number } = { hash: Buffer.from(leaf), size: 1 };
    for (let below = this.stack.at(-1); below && below.size === top.size; below = this.stack.at(-1)) {
      this.stack.pop();
      top = { hash: nodeHash(below.hash, top.hash), size: below.size * 2 };
    }
    this.stack.push(top);
    this.count++;
  }

  root(): Hash {
    const last = this.stack.at(-1);
    if (!last) return EMPTY_ROOT;
    let root = last.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) root = nodeHash((this.stack[i] as { hash: Hash }).hash, root);
    return root;
  }

  frontier(): Hash[] {
    return this.stack.map((s) => s.hash);
  }
}

/** Leaves [start, end) of the tree. */
export type LeafRange = { start: number; end: number };

const checkSize = (size: number, what: string) => {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`${what} must be a whole number ≥ 0, got ${size}`);
};

/**
 * The subtrees whose hashes make the inclusion proof of leaf `index` in the
 * tree of the first `size` leaves (RFC 6962 §2.1.1 PATH), in proof order:
 * the sibling nearest the leaf first.
 */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  checkSize(size, 'size');
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError(`leaf ${index} is not in a tree of ${size} leaves`);
  const out: LeafRange[] = [];
  const path = (m: number, start: number, end: number): void => {
    const n = end - start;
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) {
      path(m, start, start + k);
      out.push({ start: start + k, end });
    } else {
      path(m - k, start + k, end);
      out.push({ start, end: start + k });
    }
  };
  path(index, 0, size);
  return out;
}

/**
 * The subtrees whose hashes make the consistency proof from the tree of the
 * first `from` leaves to that of the first `to` (RFC 6962 §2.1.2 PROOF), in
 * proof order. Empty when from is 0 or equals to.
 */
export function consistencyRanges(from: number, to: number): LeafRange[] {
  checkSize(from, 'from');
  checkSize(to, 'to');
  if (from > to) throw new RangeError(`no consistency proof from ${from} leaves back to ${to}`);
  const out: LeafRange[] = [];
  if (from === 0 || from === to) return out;
  const subproof = (m: number, start: number, end: number, whole: boolean): void => {
    const n = end - start;
    if (m === n) {
      if (!whole) out.push({ start, end });
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      subproof(m, start, start + k, whole);
      out.push({ start: start + k, end });
    } else {
      subproof(m - k, start + k, end, false);
      out.push({ start, end: start + k });
    }
  };
  subproof(from, 0, to, true);
  return out;
}

/**
 * The hash of each of `ranges`, from the leaves streamed once in order
 * (push(index, leafHash) for index 0, 1, 2, …): memory is one TreeFold per
 * range, however many leaves go by.
 */
export class RangeHashes {
  private readonly folds: TreeFold[];
  private readonly end: number;

  constructor(private readonly ranges: LeafRange[]) {
    this.folds = ranges.map(() => new TreeFold());
    this.end = ranges.reduce((max, r) => Math.max(max, r.end), 0);
  }

  /** The number of leaves that must go by: every range ends before it. */
  get leavesNeeded(): number {
    return this.end;
  }

  push(index: number, leaf: Uint8Array): void {
    this.ranges.forEach((r, i) => {
      if (index >= r.start && index < r.end) (this.folds[i] as TreeFold).push(leaf);
    });
  }

  hashes(): Hash[] {
    return this.ranges.map((r, i) => {
      const fold = this.folds[i] as TreeFold;
      if (fold.size !== r.end - r.start) throw new RangeError(`range [${r.start}, ${r.end}) got ${fold.size} leaves`);
      return fold.root();
    });
  }
}

/** The root of a tree held in memory: the reference the streaming code is tested against. */
export function rootOf(leaves: Uint8Array[]): Hash {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return Buffer.from(leaves[0] as Uint8Array);
  const k = splitPoint(leaves.length);
  return nodeHash(rootOf(leaves.slice(0, k)), rootOf(leaves.slice(k)));
}

const hashesOf = (leaves: Uint8Array[], ranges: LeafRange[]) => ranges.map((r) => rootOf(leaves.slice(r.start, r.end)));

/** The inclusion proof of leaf `index` in the tree of the first `size` of `leaves` (in memory). */
export const inclusionProof = (leaves: Uint8Array[], index: number, size = leaves.length): Hash[] => {
  if (size > leaves.length) throw new RangeError(`a tree of ${size} leaves from ${leaves.length}`);
  return hashesOf(leaves, inclusionRanges(index, size));
};

/** The consistency proof between the trees of the first `from` and `to` of `leaves` (in memory). */
export const consistencyProof = (leaves: Uint8Array[], from: number, to = leaves.length): Hash[] => {
  if (to > leaves.length) throw new RangeError(`a tree of ${to} leaves from ${leaves.length}`);
  return hashesOf(leaves, consistencyRanges(from, to));
};
