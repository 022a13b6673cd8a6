import type { CheckpointRecord } from '../db/entities.js';
import { encodeFeedCursor } from '../events/feed-cursor.js';

/*
 * A checkpoint: the ledger's signed statement that the first `size` events of
 * the global feed, in its (transaction, position) order, have the RFC 6962
 * Merkle root `root` (server/proofs/merkle.ts; each leaf is an event's stored
 * SHA-256, as its 32 bytes). Signed as a compact JWS with the ledger's key.
 */

/** The JWS header's typ of a checkpoint. */
export const CHECKPOINT_TYP = 'ledger-checkpoint+jws';

export type CheckpointPayload = {
  kind: 'checkpoint/v1';
  /** The ledger that signed it (LEDGER_ISSUER). */
  iss: string;
  /** How many events of the feed it covers: leaves 0 … size-1. */
  size: number;
  /** The Merkle root of those events' hashes, 64 hex digits. */
  root: string;
  /** The feed cursor ("<transaction>-<position>") of the last event covered: events.list after it gives what came since. */
  cursor: string;
  issuedAt: string;
};

/**
 * A checkpoint as the API, the admin script and exports show it: the signed fields, the key's ID and the JWS.
 * Spelled out rather than derived (Omit<…> & {…}): the published client's contract is a plain object type, and
 * the build proves the two identical, which an intersection never is.
 */
export type CheckpointView = {
  size: CheckpointPayload['size'];
  root: CheckpointPayload['root'];
  cursor: CheckpointPayload['cursor'];
  issuedAt: CheckpointPayload['issuedAt'];
  kid: string;
  jws: string;
};

export const checkpointView = (row: CheckpointRecord): CheckpointView => ({
  size: Number(row.size),
  root: row.root,
  cursor: encodeFeedCursor({ txId: row.cursorTxId, position: row.cursorPosition }),
  issuedAt: row.issuedAt.toISOString(),
  kid: row.kid,
  jws: row.jws,
});
