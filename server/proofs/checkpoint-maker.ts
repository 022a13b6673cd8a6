import type { EntityManager } from '@mikro-orm/postgresql';
import { FEED_START, feedWatermark, type FeedCursor } from '../credits/event-store.js';
import { encodeFeedCursor } from '../events/feed-cursor.js';
import { signPayload } from './certificate.js';
import { CHECKPOINT_TYP, checkpointView, type CheckpointPayload, type CheckpointView } from './checkpoint.js';
import { feedLeaves, insertCheckpoint, insertLeavesFromFeed, latestCheckpoint, tryCheckpointLock } from './checkpoint-store.js';
import { eventLeafHash, TreeFold } from './merkle.js';
import type { ProofSettings } from './signing-key.js';

export type CheckpointOutcome =
  | { made: true; checkpoint: CheckpointView }
  /** busy: another process is making one right now; no_new_events: nothing settled since the latest. */
  | { made: false; reason: 'busy' | 'no_new_events'; latest: CheckpointView | null };

/**
 * Makes the next checkpoint, in one transaction: from the latest one's
 * frontier, folds in every event settled since (below the feed's watermark:
 * events of finished transactions only, which can never change place or be
 * joined by new ones before them), stores their leaves, signs
 * {size, root, cursor, issuedAt} and stores it. Memory is constant however
 * many events it covers.
 */
export async function makeCheckpoint(
  em: EntityManager,
  proofs: Pick<ProofSettings, 'signer' | 'issuer'>,
  opts: { batchSize?: number; now?: () => Date } = {},
): Promise<CheckpointOutcome> {
  const batchSize = opts.batchSize ?? 10_000;
  return em.transactional(async (tx) => {
    if (!(await tryCheckpointLock(tx))) {
      const latest = await latestCheckpoint(tx);
      return { made: false, reason: 'busy', latest: latest && checkpointView(latest) };
    }
    const latest = await latestCheckpoint(tx);
    const fold = latest ? TreeFold.resume(Number(latest.size), latest.frontier.map((h) => Buffer.from(h, 'hex'))) : new TreeFold();
    const from: FeedCursor = latest ? { txId: latest.cursorTxId, position: latest.cursorPosition } : FEED_START;
    const fromSize = fold.size;
    // Everything below the watermark is settled: what is read here is what anyone will read there later.
    const watermark = await feedWatermark(tx);
    let cursor = from;
    for (;;) {
      const batch = await feedLeaves(tx, cursor, batchSize, watermark);
      for (const leaf of batch) fold.push(eventLeafHash(leaf.hash));
      const last = batch.at(-1);
      if (last) cursor = { txId: last.txId, position: last.position };
      if (batch.length < batchSize) break;
    }
    if (fold.size === fromSize) return { made: false, reason: 'no_new_events', latest: latest && checkpointView(latest) };
    // The transaction writes (and so holds the feed's watermark back) only from here on, for one statement and the checkpoint.
    const stored = await insertLeavesFromFeed(tx, fromSize, from, cursor);
    if (stored !== fold.size - fromSize) throw new Error(`the settled feed changed while a checkpoint was made (${stored} leaves stored, ${fold.size - fromSize} read)`);
    const issuedAt = (opts.now?.() ?? new Date()).toISOString();
    const payload: CheckpointPayload = {
      kind: 'checkpoint/v1',
      iss: proofs.issuer,
      size: fold.size,
      root: fold.root().toString('hex'),
      cursor: encodeFeedCursor(cursor),
      issuedAt,
    };
    const jws = await signPayload(payload, CHECKPOINT_TYP, proofs.signer);
    const row = {
      size: String(payload.size),
      root: payload.root,
      cursorTxId: cursor.txId,
      cursorPosition: cursor.position,
      issuedAt: new Date(issuedAt),
      kid: proofs.signer.kid,
      jws,
      frontier: fold.frontier().map((h) => h.toString('hex')),
    };
    await insertCheckpoint(tx, row);
    return { made: true, checkpoint: checkpointView(row) };
  });
}
