import { z } from 'zod';
import { readFeed } from '../credits/event-store.js';
import { eventView } from '../credits/read.handlers.js';
import { procedureFor, router } from '../trpc/init.js';

const MAX_POSITION = 9223372036854775807n;

export const eventsRouter = router({
  /** The global feed: poll with the last position you saw to follow the log. */
  list: procedureFor('read')
    .input(
      z
        .object({
          afterPosition: z
            .string()
            .refine((v) => /^\d{1,19}$/.test(v) && BigInt(v) <= MAX_POSITION, 'a position: a non-negative integer (as a string) within bigint range')
            .default('0'),
          limit: z.number().int().min(1).max(1000).default(100),
        })
        .strict(),
    )
    .query(async ({ ctx, input }) => {
      ctx.budget.take('rowsRead', input.limit, `events.list with limit ${input.limit}`);
      const events = await readFeed(ctx.em, input.afterPosition, input.limit);
      const last = events.at(-1);
      return { events: events.map(eventView), nextPosition: last ? last.position : input.afterPosition };
    }),
});
