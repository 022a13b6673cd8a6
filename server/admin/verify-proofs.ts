import type { EntityManager } from '@mikro-orm/postgresql';
import { verifyCertificate } from '../../client/verify-certificate.js';
import { verifyCheckpoint } from '../../client/verify-proofs.js';
import { eventHash } from '../credits/event-hash.js';
import { cursorOf, FEED_START, feedWatermark, readFeed } from '../credits/event-store.js';
import type { StoredEvent } from '../credits/events.js';
import type { CheckpointLeafRecord, CheckpointRecord } from '../db/entities.js';
import type { Inconsistency } from '../ledger-check/verifier.js';
import { certificatesWithEvents } from '../proofs/certificate-store.js';
import { checkpointView } from '../proofs/checkpoint.js';
import { checkpointsAfter, eventAtPosition, leavesFrom } from '../proofs/checkpoint-store.js';
import type { LedgerJwks } from '../proofs/jwks.js';
import { eventLeafHash, TreeFold } from '../proofs/merkle.js';

/*
 * verify's checks of the signed proofs, in the caller's snapshot, in constant
 * memory: the log's Merkle tree recomputed from every settled event's
 * contents and compared with each checkpoint's signed root, and every
 * retirement certificate's signature and `retired` event. Where the log no
 * longer matches a checkpoint, the stored leaves (themselves checked against
 * the signed root) name the first event that changed.
 */

/** Returns true to stop (the first problem, unless --keep-going). */
export type Found = (issue: Inconsistency) => boolean;

/** A checkpoint to check the log against: its signed size and root. */
type Target = { size: number; root: string; label: string };

async function* pages<T>(read: (after: T | null) => Promise<T[]>, batchSize: number): AsyncGenerator<T> {
  let last: T | null = null;
  for (;;) {
    const batch = await read(last);
    yield* batch;
    if (batch.length < batchSize) return;
    last = batch.at(-1) ?? null;
  }
}

const issue = (kind: Inconsistency['kind'], message: string, at: { creditId?: string; position?: string | null; version?: number | null } = {}): Inconsistency => ({
  kind,
  creditId: at.creditId ?? '-',
  position: at.position ?? null,
  version: at.version ?? null,
  message,
});

/** Why leaf `index` of the checkpoints no longer matches the log, naming the event; null when it matches. */
async function leafDiff(em: EntityManager, index: number, leaf: CheckpointLeafRecord, event: StoredEvent | undefined, label: string): Promise<Inconsistency | null> {
  if (event && event.txId === leaf.txId && event.position === leaf.position) {
    const recomputed = eventHash(event);
    if (recomputed === leaf.hash) return null;
    return issue(
      'checkpoint_mismatch',
      `event ${event.position} (credit ${event.creditId}, version ${event.version}) no longer matches ${label}: it is leaf ${index}, ` +
        `signed with hash ${leaf.hash}, but its contents now hash to ${recomputed}${event.hash !== recomputed ? ` (its stored hash says ${event.hash})` : ''}: the event was altered`,
      { creditId: event.creditId, position: event.position, version: event.version },
    );
  }
  const still = await eventAtPosition(em, leaf.position);
  if (!still) {
    return issue(
      'checkpoint_mismatch',
      `event ${leaf.position} (credit ${leaf.creditId}) no longer matches ${label}: it was leaf ${index}, and it is gone from the log (deleted)`,
      { creditId: leaf.creditId, position: leaf.position },
    );
  }
  if (!event) {
    return issue('checkpoint_mismatch', `event ${leaf.position} (credit ${leaf.creditId}) no longer matches ${label}: it was leaf ${index}, but the settled log ends before it`, {
      creditId: leaf.creditId,
      position: leaf.position,
    });
  }
  return issue(
    'checkpoint_mismatch',
    `event ${event.position} (credit ${event.creditId}, version ${event.version}) no longer matches ${label}: it is now leaf ${index}, ` +
      `where the checkpoint has event ${leaf.position} (credit ${leaf.creditId}): events were inserted or moved`,
    { creditId: event.creditId, position: event.position, version: event.version },
  );
}

/**
 * Walks the settled feed and the stored leaves side by side up to the largest
 * target, checking each target's root against both. Reports the first target
 * the log no longer matches, naming the first event that differs.
 */
async function checkTargets(em: EntityManager, targets: AsyncIterable<Target> | Iterable<Target>, batchSize: number, found: Found, onProgress: (events: number) => void): Promise<{ checked: number; leaves: number; stop: boolean }> {
  const watermark = await feedWatermark(em);
  const events = pages<StoredEvent>((after) => readFeed(em, after ? cursorOf(after) : FEED_START, batchSize, watermark), batchSize)[Symbol.asyncIterator]();
  const leaves = pages<CheckpointLeafRecord>((after) => leavesFrom(em, after ? String(Number(after.leafIndex) + 1) : '0', batchSize), batchSize)[Symbol.asyncIterator]();
  const current = new TreeFold();
  const stored = new TreeFold();
  let index = 0;
  let eventsDone = false;
  let leavesDone = false;
  let firstDiff: Inconsistency | null = null;
  let reported = false;
  let checked = 0;
  for await (const target of targets) {
    while (index < target.size && !(eventsDone && leavesDone)) {
      const event: StoredEvent | undefined = eventsDone ? undefined : ((await events.next()).value as StoredEvent | undefined);
      const leaf: CheckpointLeafRecord | undefined = leavesDone ? undefined : ((await leaves.next()).value as CheckpointLeafRecord | undefined);
      eventsDone ||= event === undefined;
      leavesDone ||= leaf === undefined;
      if (event) current.push(eventLeafHash(eventHash(event)));
      if (leaf) stored.push(eventLeafHash(leaf.hash));
      if (!firstDiff && leaf) firstDiff = await leafDiff(em, index, leaf, event, 'the checkpoints');
      index++;
      if (index % batchSize === 0) onProgress(index);
    }
    checked++;
    const matches = (fold: TreeFold) => fold.size === target.size && fold.root().toString('hex') === target.root;
    if (matches(current) || reported) continue;
    reported = true;
    let found1: Inconsistency;
    if (matches(stored) && firstDiff) {
      found1 = { ...firstDiff, message: firstDiff.message.replace('the checkpoints', target.label) };
    } else if (current.size < target.size) {
      found1 = issue('checkpoint_mismatch', `the log no longer matches ${target.label}: it covers ${target.size} events, but the settled log has only ${current.size}: events were deleted`);
    } else {
      found1 = issue(
        'checkpoint_mismatch',
        `the log no longer matches ${target.label}: its first ${target.size} events hash to ${current.root().toString('hex')}, not the signed root ${target.root}` +
          (matches(stored) ? '' : '; the stored checkpoint leaves were altered too, so the first changed event cannot be named'),
      );
    }
    if (found(found1)) return { checked, leaves: index, stop: true };
  }
  onProgress(index);
  return { checked, leaves: index, stop: false };
}

export type ProofCheck = { checkpointsChecked: number; latestCheckpointSize: number | null; leavesChecked: number; certificatesChecked: number; stopped: boolean };

/** Every stored checkpoint (signature, and the log against its root), then every certificate. */
export async function checkStoredProofs(em: EntityManager, jwks: LedgerJwks, opts: { batchSize: number; found: Found; onProgress?: (events: number) => void }): Promise<ProofCheck> {
  const { found, batchSize } = opts;
  let latest: number | null = null;
  let stop = false;
  async function* targets(): AsyncGenerator<Target> {
    for await (const row of pages<CheckpointRecord>((after) => checkpointsAfter(em, after?.size ?? '0', 1000), 1000)) {
      const label = `checkpoint ${row.size}`;
      const v = await verifyCheckpoint(row.jws, jwks);
      const shown = checkpointView(row);
      const differs = v.ok && (v.checkpoint.size !== shown.size || v.checkpoint.root !== shown.root || v.checkpoint.cursor !== shown.cursor || v.checkpoint.issuedAt !== shown.issuedAt);
      if (!v.ok || differs) {
        const why = v.ok ? `its stored fields differ from what it signed (${JSON.stringify({ size: v.checkpoint.size, root: v.checkpoint.root, cursor: v.checkpoint.cursor })})` : `its signature fails (${v.reason}): ${v.message}`;
        if (found(issue('checkpoint_signature', `${label}: ${why}`))) {
          stop = true;
          return;
        }
      }
      latest = shown.size;
      // A checkpoint whose signature holds is checked against what it signed.
      yield v.ok ? { size: v.checkpoint.size, root: v.checkpoint.root, label } : { size: shown.size, root: shown.root, label };
    }
  }
  const walked = await checkTargets(em, targets(), batchSize, found, opts.onProgress ?? (() => undefined));
  if (stop || walked.stop) return { checkpointsChecked: walked.checked, latestCheckpointSize: latest, leavesChecked: walked.leaves, certificatesChecked: 0, stopped: true };
  const certificates = await checkCertificates(em, jwks, batchSize, found);
  return { checkpointsChecked: walked.checked, latestCheckpointSize: latest, leavesChecked: walked.leaves, certificatesChecked: certificates.checked, stopped: certificates.stop };
}

async function checkCertificates(em: EntityManager, jwks: LedgerJwks, batchSize: number, found: Found): Promise<{ checked: number; stop: boolean }> {
  let checked = 0;
  for await (const c of pages((after: { creditId: string } | null) => certificatesWithEvents(em, after?.creditId ?? '', batchSize), batchSize)) {
    checked++;
    const at = { creditId: c.creditId, position: c.retiredPosition };
    const v = await verifyCertificate(c.jws, jwks);
    let problem: string | null = null;
    if (!v.ok) problem = `its signature fails (${v.reason}): ${v.message}`;
    else if (v.certificate.creditId !== c.creditId || v.certificate.retiredEvent.position !== c.retiredPosition) problem = 'it is filed under another credit or event than it certifies';
    else if (!c.event) problem = `its retired event ${c.retiredPosition} is gone from the log`;
    else if (c.event.creditId !== c.creditId || c.event.type !== 'retired') problem = `the event at position ${c.retiredPosition} is now credit ${c.event.creditId}'s ${c.event.type}, not this credit's retirement`;
    else if (c.event.hash !== v.certificate.retiredEvent.hash) problem = `its retired event ${c.retiredPosition} now has hash ${c.event.hash}, not the certified ${v.certificate.retiredEvent.hash}`;
    if (problem && found(issue('certificate_mismatch', `the retirement certificate of credit ${c.creditId}: ${problem}`, at))) return { checked, stop: true };
  }
  return { checked, stop: false };
}

export type ExternalCheck = { size: number; root: string; kid: string | null; leavesChecked: number; signature: string };

/** The log against one checkpoint from elsewhere (its JWS): its signature with `jwks`, then its root. */
export async function checkExternalCheckpoint(em: EntityManager, jws: string, jwks: LedgerJwks, opts: { batchSize: number; found: Found; onProgress?: (events: number) => void }): Promise<ExternalCheck> {
  const v = await verifyCheckpoint(jws, jwks);
  if (!v.ok) {
    opts.found(issue('checkpoint_signature', `the checkpoint's signature fails (${v.reason}): ${v.message}`));
    return { size: 0, root: '', kid: v.kid ?? null, leavesChecked: 0, signature: v.reason };
  }
  const { size, root } = v.checkpoint;
  const one: Target[] = [{ size, root, label: `the checkpoint of size ${size} (root ${root}, signed by ${v.kid})` }];
  const walked = await checkTargets(em, one, opts.batchSize, opts.found, opts.onProgress ?? (() => undefined));
  return { size, root, kid: v.kid, leavesChecked: walked.leaves, signature: 'ok' };
}
