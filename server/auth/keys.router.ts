import { z } from 'zod';
import { ApiKeyEntity } from '../db/entities.js';
import { procedureFor, router } from '../trpc/init.js';
import { BOOTSTRAP_ADMIN_ID, keyView } from './api-keys.js';
import { createKey, keyAudit, revokeKey } from './key-admin.js';
import { ROLES } from './roles.js';

const keyName = z
  .string()
  .trim()
  .min(1, 'name must not be empty')
  .max(100)
  .regex(/^[^\p{Cc}]*$/u, 'name must not contain control characters');

const keyId = z
  .string()
  .refine((id) => id === BOOTSTRAP_ADMIN_ID || /^key_[0-9a-f]{16}$/.test(id), `id must be a key ID: key_ followed by 16 hex digits, or ${BOOTSTRAP_ADMIN_ID}`);

export const keysRouter = router({
  /** The only time the key itself is shown: we keep nothing but its hash. */
  create: procedureFor('manageKeys')
    .input(z.object({ name: keyName, role: z.enum(ROLES) }).strict())
    .mutation(async ({ ctx, input }) => {
      const { key, row } = await createKey(ctx.em, input, ctx.actor, new Date());
      return { key, apiKey: keyView(row) };
    }),

  list: procedureFor('manageKeys')
    .input(z.object({ includeRevoked: z.boolean().default(true) }).strict().default({ includeRevoked: true }))
    .query(async ({ ctx, input }) => {
      const rows = await ctx.em.find(ApiKeyEntity, input.includeRevoked ? {} : { revokedAt: null }, { orderBy: { createdAt: 'asc', id: 'asc' } });
      return { keys: rows.map(keyView) };
    }),

  revoke: procedureFor('manageKeys')
    .input(z.object({ id: keyId }).strict())
    .mutation(async ({ ctx, input }) => {
      const row = await revokeKey(ctx.em, input.id, ctx.actor, { adminApiKey: ctx.adminApiKey }, new Date());
      // Refused from the next request on in this process; in the others within API_KEY_CACHE_MS.
      ctx.keys.forget(row.keyHash);
      return { apiKey: keyView(row) };
    }),

  /** Who created and revoked which key, when; oldest first. */
  audit: procedureFor('manageKeys')
    .input(
      z
        .object({
          cursor: z.string().regex(/^\d{1,19}$/, 'cursor: the nextCursor of an earlier page').default('0'),
          limit: z.number().int().min(1).max(500).default(100),
        })
        .strict()
        .default({ cursor: '0', limit: 100 }),
    )
    .query(({ ctx, input }) => {
      ctx.budget.take('rowsRead', input.limit, `keys.audit with limit ${input.limit}`);
      return keyAudit(ctx.em, input.cursor, input.limit);
    }),
});
