import type { EntityManager } from '@mikro-orm/postgresql';
import { TRPCError } from '@trpc/server';
import { ApiKeyAuditEntity, ApiKeyEntity, type ApiKeyAuditRecord, type ApiKeyRecord } from '../db/entities.js';
import { jsonView, type JsonView } from '../db/json-view.js';
import { BOOTSTRAP_ADMIN_ID, BOOTSTRAP_ADMIN_NAME, generateKey, hashKey } from './api-keys.js';
import type { Actor, Role } from './roles.js';

/*
 * Creating and revoking API keys. Each change is written to api_key_audit in
 * the same transaction, and the ledger never loses its last admin.
 */

/** Key changes are rare: taken one at a time, "never revoke the last admin" holds under concurrent revokes. */
const lockKeyChanges = (em: EntityManager) => em.execute(`select pg_advisory_xact_lock(hashtext('ledger:api_keys'))`);

function audit(em: EntityManager, actor: Actor, action: 'created' | 'revoked', key: ApiKeyRecord, at: Date): void {
  em.create(ApiKeyAuditEntity, { at, actor: actor.keyId, action, keyId: key.id, keyRole: key.role, keyName: key.name });
}

export async function createKey(em: EntityManager, input: { name: string; role: Role }, actor: Actor, now: Date) {
  const { id, key } = generateKey();
  const row = await em.transactional(async (tx) => {
    const created = tx.create(ApiKeyEntity, { id, ...input, keyHash: hashKey(key), createdAt: now, createdBy: actor.keyId, revokedAt: null });
    audit(tx, actor, 'created', created, now);
    await tx.flush();
    return created;
  });
  return { key, row };
}

/** The bootstrap key as configured for this process: ADMIN_API_KEY, unless BOOTSTRAP_ADMIN_KEY_ENABLED=false. */
export type Bootstrap = { adminApiKey?: string | undefined };

/**
 * Revokes a key; revoking twice keeps the first time. Revoking the bootstrap
 * key retires it for good: a revoked row under its ID makes every API process
 * refuse ADMIN_API_KEY from then on, whatever its environment says.
 */
export async function revokeKey(em: EntityManager, id: string, actor: Actor, bootstrap: Bootstrap, now: Date): Promise<ApiKeyRecord> {
  return em.transactional(async (tx) => {
    await lockKeyChanges(tx);
    // Counted before anything is created below: a pending bootstrap row would be flushed into the count.
    const admins = await activeAdmins(tx, bootstrap);
    let row = await tx.findOne(ApiKeyEntity, { id });
    if (!row && id === BOOTSTRAP_ADMIN_ID && bootstrap.adminApiKey) {
      row = tx.create(ApiKeyEntity, {
        id,
        name: BOOTSTRAP_ADMIN_NAME,
        role: 'admin',
        keyHash: hashKey(bootstrap.adminApiKey),
        createdAt: now,
        createdBy: 'environment',
        revokedAt: null,
      });
    }
    if (!row) {
      const why = id === BOOTSTRAP_ADMIN_ID ? ': this API process has no bootstrap key (ADMIN_API_KEY is unset or BOOTSTRAP_ADMIN_KEY_ENABLED=false)' : '';
      throw new TRPCError({ code: 'NOT_FOUND', message: `API key ${id} not found${why}` });
    }
    if (row.revokedAt) return row;
    if (row.role === 'admin' && admins <= 1) {
      throw new TRPCError({
        code: 'CONFLICT',
        message: `API key ${id} is the last active admin key; create another admin key (keys.create with role admin) before revoking it`,
      });
    }
    row.revokedAt = now;
    audit(tx, actor, 'revoked', row, now);
    await tx.flush();
    return row;
  });
}

/** Admin keys that can call the API right now: stored ones not revoked, and the bootstrap key unless it was revoked. */
async function activeAdmins(em: EntityManager, bootstrap: Bootstrap): Promise<number> {
  const stored = await em.count(ApiKeyEntity, { role: 'admin', revokedAt: null, id: { $ne: BOOTSTRAP_ADMIN_ID } });
  if (!bootstrap.adminApiKey) return stored;
  const retired = await em.count(ApiKeyEntity, { id: BOOTSTRAP_ADMIN_ID });
  return stored + (retired === 0 ? 1 : 0);
}

export type KeyAuditView = JsonView<ApiKeyAuditRecord>;

/** The trail, oldest first, a page after `afterId`. */
export async function keyAudit(em: EntityManager, afterId: string, limit: number): Promise<{ entries: KeyAuditView[]; nextCursor: string | null }> {
  const rows = await em.find(ApiKeyAuditEntity, { id: { $gt: afterId } }, { orderBy: { id: 'asc' }, limit: limit + 1, disableIdentityMap: true });
  const page = rows.slice(0, limit);
  return { entries: page.map((r) => jsonView(r)), nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
}
