import { z } from 'zod';
import type { FeedCursor } from '../credits/event-store.js';

/*
 * The feed's cursor as callers hold it: "<transaction ID>-<position>", both
 * decimal, e.g. "748213-10442". "0-0" (or no cursor) is the start of the log.
 * Positions alone are not the feed's order: two writers may commit in the
 * opposite order to the one in which they took their positions.
 */

const MAX_XID8 = 18446744073709551615n;
const MAX_BIGINT = 9223372036854775807n;

export const encodeFeedCursor = (c: FeedCursor): string => `${c.txId}-${c.position}`;

export function decodeFeedCursor(raw: string): FeedCursor | null {
  const m = /^(\d{1,20})-(\d{1,19})$/.exec(raw);
  if (!m?.[1] || !m[2] || BigInt(m[1]) > MAX_XID8 || BigInt(m[2]) > MAX_BIGINT) return null;
  return { txId: BigInt(m[1]).toString(), position: BigInt(m[2]).toString() };
}

/** The `after` input of the feed: a cursor this API returned, or "0-0". */
export const feedCursorSchema = z
  .string()
  .max(41)
  .transform((raw, ctx) => {
    const cursor = decodeFeedCursor(raw);
    if (!cursor) {
      ctx.issues.push({ code: 'custom', input: raw, message: 'after must be a feed cursor "<transaction>-<position>" as the API returned it, or "0-0"' });
      return z.NEVER;
    }
    return cursor;
  });
