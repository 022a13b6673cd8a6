import type { EntityManager } from '@mikro-orm/postgresql';
import { TRPCError } from '@trpc/server';
import { canonicalRegistry } from './canonical-id.js';
import { CREDIT_ID_PATTERN } from './credit.schema.js';
import type { ListCreditsInput } from './list.schema.js';
import { pageCredits } from './credit-store.js';
import { creditView } from './projection.js';

type Cursor = { createdAt: string; id: string };

const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify([c.createdAt, c.id])).toString('base64url');

function decodeCursor(raw: string): Cursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    // Only the exact form this server writes: anything Date.parse merely
    // tolerates could still be out of PostgreSQL's range.
    const [createdAt, id] = Array.isArray(parsed) ? (parsed as unknown[]) : [];
    if (typeof createdAt === 'string' && typeof id === 'string' && CREDIT_ID_PATTERN.test(id) && isOwnTimestamp(createdAt)) {
      return { createdAt, id };
    }
  } catch {
    // fall through to the error below
  }
  throw new TRPCError({ code: 'BAD_REQUEST', message: 'cursor: not a cursor this API returned' });
}

function isOwnTimestamp(s: string): boolean {
  const d = new Date(s);
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(s) && !Number.isNaN(d.getTime()) && d.toISOString() === s;
}

/**
 * Keyset pagination over (created_at, id), a total order: each page starts
 * strictly after the last row of the previous one, so rows inserted while a
 * client pages can never shift, duplicate or hide the rows it has not seen.
 */
export async function listCredits(em: EntityManager, input: ListCreditsInput) {
  // One extra row tells whether another page exists without a count query.
  const rows = await pageCredits(
    em,
    {
      ...(input.cursor ? { after: decodeCursor(input.cursor) } : {}),
      ...(input.registry !== undefined ? { registryKey: canonicalRegistry(input.registry) } : {}),
      ...(input.vintage !== undefined ? { vintage: input.vintage } : {}),
      ...(input.status !== undefined ? { status: input.status } : {}),
      ...(input.projectName !== undefined ? { projectNameContains: input.projectName } : {}),
    },
    input.limit + 1,
  );
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    items: page.map(creditView),
    nextCursor: rows.length > input.limit && last ? encodeCursor({ createdAt: last.createdAt.toISOString(), id: last.id }) : null,
  };
}
