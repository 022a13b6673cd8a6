import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { ApiKeyEntity } from '../db/entities.js';
import { procedureFor, router } from '../trpc/init.js';
import { generateKey, hashKey, keyView } from './api-keys.js';
import { ROLES } from './roles.js';

const keyName = z
  .string()
  .trim()
  .min(1, 'name must not be empty')
  .max(100)
  .regex(/^[^\p{Cc}]*$/u, 'name must not contain control characters');

export const keysRouter = router({
  /** The only time the key itself is shown: we keep nothing but its hash. */
  create: procedureFor('manageKeys')
    .input(z.object({ name: keyName, role: z.enum(ROLES) }).strict())
    .mutation(async ({ ctx, input }) => {
      const { id, key } = generateKey();
      const row = ctx.em.create(ApiKeyEntity, {
        id,
        name: input.name,
        role: input.role,
        keyHash: hashKey(key),
        createdAt: new Date(),
        createdBy: ctx.actor.keyId,
        revokedAt: null,
      });
      await ctx.em.persistAndFlush(row);
      return { key, apiKey: keyView(row) };
    }),

  list: procedureFor('manageKeys')
    .input(z.object({ includeRevoked: z.boolean().default(true) }).strict().default({ includeRevoked: true }))
    .query(async ({ ctx, input }) => {
      const rows = await ctx.em.find(ApiKeyEntity, input.includeRevoked ? {} : { revokedAt: null }, { orderBy: { createdAt: 'asc', id: 'asc' } });
      return { keys: rows.map(keyView) };
    }),

  revoke: procedureFor('manageKeys')
    .input(z.object({ id: z.string().regex(/^key_[0-9a-f]{16}$/, 'a key ID: key_ followed by 16 hex digits') }).strict())
    .mutation(async ({ ctx, input }) => {
      const row = await ctx.em.findOne(ApiKeyEntity, { id: input.id });
      if (!row) throw new TRPCError({ code: 'NOT_FOUND', message: `API key ${input.id} not found` });
      // Revoking twice keeps the first revocation time: the audit trail does not move.
      if (!row.revokedAt) {
        row.revokedAt = new Date();
        await ctx.em.flush();
      }
      return { apiKey: keyView(row) };
    }),
});
