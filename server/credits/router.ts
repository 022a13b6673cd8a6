import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { procedureFor, router } from '../trpc/init.js';
import { fieldIssues } from '../trpc/errors.js';
import { createCredit, createCredits } from './create.handler.js';
import { cancelCreditInput, createCreditInput, creditIdSchema, isoInstant, retireCreditInput, splitCreditInput } from './credit.schema.js';
import { listCreditsInput } from './list.schema.js';
import { listCredits } from './list.handler.js';
import { creditStateAt, getCredit } from './read.handlers.js';
import { cancelCredit, splitCredit } from './parts.handlers.js';
import { requestRetirement, retirementStatus } from './retire.handler.js';


export const creditsRouter = router({
  create: procedureFor('create')
    .input(createCreditInput)
    .mutation(({ ctx, input }) => {
      ctx.budget.take('creditsCreated', 1, 'credits.create');
      return createCredit(ctx.em, input, ctx.actor.keyId, new Date());
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
      requestRetirement(
        ctx,
        {
          id: input.id,
          beneficiary: input.beneficiary,
          reason: input.reason ?? null,
          ...(input.quantity !== undefined && input.requestId !== undefined ? { part: { quantity: input.quantity, requestId: input.requestId } } : {}),
        },
        ctx.actor.keyId,
        new Date(),
      ),
    ),

  /** Carves `quantity` off a credit (the lowest units, for a block) into a new credit. */
  split: procedureFor('split')
    .input(splitCreditInput)
    .mutation(({ ctx, input }) => splitCredit(ctx.em, input, { actor: ctx.actor.keyId, now: new Date(), lockTimeoutMs: ctx.lockTimeoutMs })),

  /** Ends a credit, or a part carved off it, as cancelled: its units can never be used again. */
  cancel: procedureFor('cancel')
    .input(cancelCreditInput)
    .mutation(({ ctx, input }) =>
      cancelCredit(
        ctx.em,
        {
          id: input.id,
          reason: input.reason,
          ...(input.quantity !== undefined && input.requestId !== undefined ? { part: { quantity: input.quantity, requestId: input.requestId } } : {}),
        },
        { actor: ctx.actor.keyId, now: new Date(), lockTimeoutMs: ctx.lockTimeoutMs },
      ),
    ),

  retirementStatus: procedureFor('retirementStatus')
    .input(z.object({ id: creditIdSchema }).strict())
    .query(({ ctx, input }) => retirementStatus(ctx, input.id)),
});
