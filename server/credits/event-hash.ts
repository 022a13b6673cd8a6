import { createHash } from 'node:crypto';
import type { NewEvent, OmitFromEach } from './events.js';

/**
 * JSON with object keys sorted at every depth. jsonb does not keep key order,
 * so a hash over plain JSON.stringify would not survive a round trip.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * SHA-256 over a versioned, unambiguous encoding of the event and the hash of
 * the same credit's previous event: editing any event breaks every later link.
 * Takes a stored event as well (its position and hash are not hashed), so the
 * verifier and the writer compute it from the same fields.
 */
export function eventHash(e: OmitFromEach<NewEvent, 'hash'>): string {
  const encoded = canonicalJson(['ev-v1', e.creditId, e.version, e.type, e.data, e.actor, e.occurredAt.toISOString(), e.prevHash]);
  return createHash('sha256').update(encoded).digest('hex');
}
