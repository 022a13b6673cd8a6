import { IsolationLevel, type EntityManager } from '@mikro-orm/postgresql';
import { FEED_START, feedWatermark } from '../credits/event-store.js';
import type { CheckpointRecord } from '../db/entities.js';
import { checkpointView, type CheckpointView } from './checkpoint.js';
import { checkpointOfSize, feedLeaves, indexedEvent, latestCheckpoint } from './checkpoint-store.js';
import { consistencyRanges, eventLeafHash, inclusionRanges, RangeHashes, type LeafRange } from './merkle.js';

/*
 * Inclusion and consistency proofs, computed from the log as it is now: the
 * subtree hashes a proof needs are folded from the feed's events, read once
 * in order up to the checkpoint's size (constant memory). If the log was
 * altered since the checkpoint, the proof does not verify against it.
 */

/** Why a proof cannot be given; the router turns it into NOT_FOUND, BAD_REQUEST or CONFLICT. */
export class ProofUnavailable extends Error {
  constructor(
    readonly code: 'NOT_FOUND' | 'BAD_REQUEST' | 'CONFLICT',
    message: string,
  ) {
    super(message);
    this.name = 'ProofUnavailable';
  }
}

async function checkpointOrLatest(em: EntityManager, size: number | undefined): Promise<CheckpointRecord> {
  const row = size === undefined ? await latestCheckpoint(em) : await checkpointOfSize(em, String(size));
  if (!row) throw new ProofUnavailable('NOT_FOUND', size === undefined ? 'no checkpoint has been made yet' : `no checkpoint of size ${size}`);
  return row;
}

/** The hashes of `ranges` over the first leaves of the feed, as it is now. */
async function hashRanges(em: EntityManager, ranges: LeafRange[], batchSize = 10_000): Promise<Buffer[]> {
  const hashes = new RangeHashes(ranges);
  const needed = hashes.leavesNeeded;
  const watermark = await feedWatermark(em);
  let cursor = FEED_START;
  let index = 0;
  while (index < needed) {
    const batch = await feedLeaves(em, cursor, Math.min(batchSize, needed - index), watermark);
    for (const leaf of batch) hashes.push(index++, eventLeafHash(leaf.hash));
    const last = batch.at(-1);
    if (!last) break;
    cursor = { txId: last.txId, position: last.position };
  }
  if (index < needed) throw new ProofUnavailable('CONFLICT', `the log now has ${index} settled events, fewer than the ${needed} the proof needs: events were removed`);
  return hashes.hashes();
}

const hex = (hashes: Buffer[]) => hashes.map((h) => h.toString('hex'));

const snapshot = <T>(em: EntityManager, work: (tx: EntityManager) => Promise<T>) =>
  em.transactional(work, { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true });

export type InclusionProof = {
  checkpoint: CheckpointView;
  /** The event's place in the feed: leaf `leafIndex` of the tree. */
  leafIndex: number;
  event: { position: string; txId: string; creditId: string; version: number; type: string; hash: string };
  /** The sibling subtree hashes, nearest the leaf first (RFC 9162 §2.1.3). */
  proof: string[];
};

/** Proof that the event at `position` is in the checkpoint of `checkpointSize` (default: the latest). */
export function proveInclusion(em: EntityManager, position: string, checkpointSize?: number): Promise<InclusionProof> {
  return snapshot(em, async (tx) => {
    const checkpoint = await checkpointOrLatest(tx, checkpointSize);
    const size = Number(checkpoint.size);
    const event = await indexedEvent(tx, position);
    if (!event) throw new ProofUnavailable('NOT_FOUND', `no event at position ${position}`);
    if (event.index >= size) {
      throw new ProofUnavailable('NOT_FOUND', `the event at position ${position} is leaf ${event.index} of the feed: checkpoint ${size} covers leaves 0–${size - 1}; ask for a later checkpoint`);
    }
    const proof = await hashRanges(tx, inclusionRanges(event.index, size));
    const { index: leafIndex, ...shown } = event;
    return { checkpoint: checkpointView(checkpoint), leafIndex, event: shown, proof: hex(proof) };
  });
}

export type ConsistencyProof = { from: CheckpointView; to: CheckpointView; proof: string[] };

/** Proof that the checkpoint of `toSize` (default: the latest) extends the one of `fromSize` (RFC 9162 §2.1.4). */
export function proveConsistency(em: EntityManager, fromSize: number, toSize?: number): Promise<ConsistencyProof> {
  return snapshot(em, async (tx) => {
    const from = await checkpointOrLatest(tx, fromSize);
    const to = await checkpointOrLatest(tx, toSize);
    if (Number(from.size) > Number(to.size)) throw new ProofUnavailable('BAD_REQUEST', `fromSize ${from.size} is larger than toSize ${to.size}`);
    const proof = await hashRanges(tx, consistencyRanges(Number(from.size), Number(to.size)));
    return { from: checkpointView(from), to: checkpointView(to), proof: hex(proof) };
  });
}
