import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { procedureFor, router } from '../trpc/init.js';
import { conflict, fieldIssues } from '../trpc/errors.js';
import { createCredits } from './create.handler.js';
import { createCreditInput, creditIdSchema, retireCreditInput } from './credit.schema.js';
import { listCreditsInput } from './list.schema.js';
import { listCredits } from './list.handler.js';
import { creditStateAt, getCredit } from './read.handlers.js';
import { requestRetirement, retirementStatus } from './retire.handler.js';

const EARLIEST_INSTANT = new Date('1990-01-01T00:00:00Z');
const DAY_MS = 24 * 3600 * 1000;

/** An ISO-8601 instant no earlier than the first vintage and no later than a day from now (clocks differ). */
const isoInstant = z.iso
  .datetime({ offset: true, error: 'at must be an ISO-8601 instant with a time zone, e.g. 2024-05-01T12:00:00Z' })
  .transform((s) => new Date(s))
  .refine((d) => d >= EARLIEST_INSTANT && d.getTime() <= Date.now() + DAY_MS, 'at must be between 1990-01-01T00:00:00Z and one day from now');

export const creditsRouter = router({
  create: procedureFor('create')
    .input(createCreditInput)
    .mutation(async ({ ctx, input }) => {
      ctx.budget.take('creditsCreated', 1, 'credits.create');
      const [result] = await createCredits(ctx.em, [input], ctx.actor.keyId, new Date());
      if (!result) throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'no outcome' });
      if (result.outcome === 'conflict') throw conflict(result.message, { existingId: result.existingId });
      return { credit: result.credit, created: result.outcome === 'created' };
    }),

  /** Bulk create for importers: each item is validated and answered on its own. */
  createMany: procedureFor('create')
    .input(z.object({ items: z.array(z.unknown()).min(1).max(1000) }).strict())
    .mutation(async ({ ctx, input }) => {
      ctx.budget.take('creditsCreated', input.items.length, `credits.createMany with ${input.items.length} items`);
      const parsed = input.items.map((item) => createCreditInput.safeParse(item));
      const valid = parsed.flatMap((p, index) => (p.success ? [{ index, fields: p.data }] : []));
      const outcomes = await createCredits(ctx.em, valid.map((v) => v.fields), ctx.actor.keyId, new Date());
      const byIndex = new Map(valid.map((v, i) => [v.index, outcomes[i]]));
      return {
        results: parsed.map((p, index) => {
          if (!p.success) {
            return {
              index,
              outcome: 'invalid' as const,
              issues: fieldIssues(p.error),
            };
          }
          const o = byIndex.get(index);
          if (!o) throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'missing outcome' });
          return { index, ...o };
        }),
      };
    }),

  get: procedureFor('read')
    .input(z.object({ id: creditIdSchema }).strict())
    .query(({ ctx, input }) => getCredit(ctx.em, input.id)),

  list: procedureFor('read')
    .input(listCreditsInput)
    .query(({ ctx, input }) => {
      ctx.budget.take('rowsRead', input.limit, `credits.list with limit ${input.limit}`);
      return listCredits(ctx.em, input);
    }),

  stateAt: procedureFor('read')
    .input(z.object({ id: creditIdSchema, at: isoInstant }).strict())
    .query(({ ctx, input }) => creditStateAt(ctx.em, input.id, input.at)),

  retire: procedureFor('retire')
    .input(retireCreditInput)
    .mutation(({ ctx, input }) =>
      requestRetirement(ctx, { id: input.id, beneficiary: input.beneficiary, reason: input.reason ?? null }, ctx.actor.keyId, new Date()),
    ),

  retirementStatus: procedureFor('retirementStatus')
    .input(z.object({ id: creditIdSchema }).strict())
    .query(({ ctx, input }) => retirementStatus(ctx, input.id)),
});
