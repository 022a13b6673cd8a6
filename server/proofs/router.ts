import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { creditIdSchema } from '../credits/credit.schema.js';
import { procedureFor, router } from '../trpc/init.js';
import { checkpointView } from './checkpoint.js';
import { checkpointsBefore, latestCheckpoint } from './checkpoint-store.js';
import { certificateOfCredit } from './certificates.js';
import { ProofUnavailable, proveConsistency, proveInclusion } from './log-proofs.js';

/*
 * The proofs' procedures: a retired credit's certificate (credits.certificate)
 * and the checkpoints of the log with their inclusion and consistency proofs.
 */

const asTrpc = (err: unknown): never => {
  if (err instanceof ProofUnavailable) throw new TRPCError({ code: err.code, message: err.message });
  throw err;
};

/** `credits.certificate {id}` (retirer, auditor, admin) → { jws, kid, certificate }; NOT_FOUND until retired. */
export const certificateProcedure = procedureFor('retirementStatus')
  .input(z.object({ id: creditIdSchema }).strict())
  .query(async ({ ctx, input }) => {
    const found = await certificateOfCredit(ctx.em, input.id);
    if (!found) throw new TRPCError({ code: 'NOT_FOUND', message: `no retirement certificate for ${input.id}: the credit is unknown or not retired (yet)` });
    return found;
  });

const checkpointSize = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const position = z
  .union([z.number().int().min(1).max(Number.MAX_SAFE_INTEGER), z.string().regex(/^[1-9]\d{0,18}$/, 'a position is a positive whole number')])
  .transform((p) => String(p));

export const checkpointsRouter = router({
  /** The newest checkpoint, or null before the first. */
  latest: procedureFor('read').query(async ({ ctx }) => {
    const row = await latestCheckpoint(ctx.em);
    return { checkpoint: row && checkpointView(row) };
  }),

  /** Newest first; pass `nextCursor` back as `cursor` until it is null. */
  list: procedureFor('read')
    .input(
      z
        .object({
          cursor: z.string().regex(/^[1-9]\d{0,15}$/, 'cursor must be a nextCursor this API returned').optional(),
          limit: z.number().int().min(1).max(500).default(50),
        })
        .strict(),
    )
    .query(async ({ ctx, input }) => {
      ctx.budget.take('rowsRead', input.limit, `checkpoints.list with limit ${input.limit}`);
      const rows = await checkpointsBefore(ctx.em, input.cursor ?? null, input.limit);
      const last = rows.at(-1);
      return { items: rows.map(checkpointView), nextCursor: rows.length === input.limit && last ? last.size : null };
    }),

  /** That the event at `position` is leaf `leafIndex` of the checkpoint of `checkpointSize` (default: the latest). */
  proveInclusion: procedureFor('read')
    .input(z.object({ position, checkpointSize: checkpointSize.optional() }).strict())
    .query(({ ctx, input }) => proveInclusion(ctx.em, input.position, input.checkpointSize).catch(asTrpc)),

  /** That the checkpoint of `toSize` (default: the latest) only adds events to the one of `fromSize`. */
  proveConsistency: procedureFor('read')
    .input(z.object({ fromSize: checkpointSize, toSize: checkpointSize.optional() }).strict())
    .query(({ ctx, input }) => proveConsistency(ctx.em, input.fromSize, input.toSize).catch(asTrpc)),
});
