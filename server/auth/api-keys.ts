import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { LRUCache } from 'lru-cache';
import { ApiKeyEntity, type ApiKeyRecord } from '../db/entities.js';
import { jsonView, type JsonView } from '../db/json-view.js';
import type { Actor } from './roles.js';

export const BOOTSTRAP_ADMIN_ID = 'key_bootstrap_admin';
/** Its name wherever a key's name is shown: the revoked row keys.revoke stores, a retirement's default beneficiary. */
export const BOOTSTRAP_ADMIN_NAME = 'bootstrap key (ADMIN_API_KEY)';

/**
 * Keys are 256 random bits, so one SHA-256 is enough to store them safely:
 * a slow password hash protects guessable secrets, and these are not.
 */
export const hashKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

export function generateKey(): { id: string; key: string } {
  return { id: `key_${randomBytes(8).toString('hex')}`, key: `ccl_${randomBytes(32).toString('base64url')}` };
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/**
 * Resolves a bearer token to an actor, or null when unknown or revoked. The
 * bootstrap key (ADMIN_API_KEY) is honoured until it is retired for good with
 * keys.revoke key_bootstrap_admin, which leaves a revoked row under that ID:
 * from then on every API process refuses any ADMIN_API_KEY.
 */
export async function resolveKey(em: EntityManager, token: string, adminApiKey?: string): Promise<Actor | null> {
  if (adminApiKey && sameSecret(token, adminApiKey)) {
    const retired = await em.findOne(ApiKeyEntity, { id: BOOTSTRAP_ADMIN_ID }, { disableIdentityMap: true });
    return retired ? null : { keyId: BOOTSTRAP_ADMIN_ID, role: 'admin' };
  }
  const row = await em.findOne(ApiKeyEntity, { keyHash: hashKey(token), revokedAt: null }, { disableIdentityMap: true });
  return row ? { keyId: row.id, role: row.role } : null;
}

/**
 * Remembers what a token resolved to for at most `ttlMs`, so a busy caller
 * costs the database one key lookup per window rather than one per request,
 * and a revocation reaches every API process within that window. Entries are
 * keyed by the token's hash: no process keeps raw keys around. Concurrent
 * misses for one token share a single lookup.
 */
export class KeyResolver {
  private readonly cache: LRUCache<string, { actor: Actor | null }, { token: string }>;

  constructor(lookup: (token: string) => Promise<Actor | null>, ttlMs: number, maxEntries = 10_000) {
    this.cache = new LRUCache({
      max: maxEntries,
      ttl: Math.max(1, ttlMs),
      fetchMethod: async (_hash, _stale, { context }) => ({ actor: await lookup(context.token) }),
    });
  }

  async resolve(token: string): Promise<Actor | null> {
    const entry = await this.cache.fetch(hashKey(token), { context: { token } });
    return entry?.actor ?? null;
  }

  /** Drops what this process remembers of the key with this hash (it was just revoked here). */
  forget(keyHash: string): void {
    this.cache.delete(keyHash);
  }
}

/** A key as admins see it: everything but its hash. */
export type ApiKeyView = JsonView<Omit<ApiKeyRecord, 'keyHash'>>;

export const keyView = (r: ApiKeyRecord): ApiKeyView => jsonView(r, ['keyHash']);
