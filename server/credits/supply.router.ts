import { z } from 'zod';
import { procedureFor, router } from '../trpc/init.js';
import { canonicalRegistry } from './canonical-id.js';
import { isoInstant, projectNameSchema, registrySchema, vintageSchema } from './credit.schema.js';
import { supplyTotals } from './event-store.js';

export const supplyRouter = router({
  /**
   * Issued, active, retired, cancelled and pending-retirement quantities (exact
   * decimal strings), each unit counted once however often its block was split;
   * with `at`, as the events stood at that instant.
   */
  totals: procedureFor('read')
    .input(
      z
        .object({ registry: registrySchema.optional(), vintage: vintageSchema.optional(), projectName: projectNameSchema.optional(), at: isoInstant.optional() })
        .strict()
        .default({}),
    )
    .query(async ({ ctx, input }) => {
      const totals = await supplyTotals(
        ctx.em,
        {
          ...(input.registry !== undefined ? { registryKey: canonicalRegistry(input.registry) } : {}),
          ...(input.vintage !== undefined ? { vintage: input.vintage } : {}),
          ...(input.projectName !== undefined ? { projectNameContains: input.projectName } : {}),
        },
        input.at,
      );
      return { ...totals, at: (input.at ?? new Date()).toISOString() };
    }),
});
