import { z } from 'zod';
import { cursorOf, FEED_START, readFeed } from '../credits/event-store.js';
import { eventView } from '../credits/read.handlers.js';
import { procedureFor, router } from '../trpc/init.js';
import { encodeFeedCursor, feedCursorSchema } from './feed-cursor.js';

export const eventsRouter = router({
  /**
   * The global feed in (writing transaction, position) order, holding only
   * events of transactions older than every one still running: poll with the
   * `nextCursor` you got to follow the log. Each event is seen exactly once,
   * and none ever appears behind a cursor already handed out.
   */
  list: procedureFor('read')
    .input(
      z
        .object({
          after: feedCursorSchema.optional(),
          limit: z.number().int().min(1).max(1000).default(100),
        })
        .strict(),
    )
    .query(async ({ ctx, input }) => {
      ctx.budget.take('rowsRead', input.limit, `events.list with limit ${input.limit}`);
      const after = input.after ?? FEED_START;
      const events = await readFeed(ctx.em, after, input.limit);
      const last = events.at(-1);
      return { events: events.map(eventView), nextCursor: encodeFeedCursor(last ? cursorOf(last) : after) };
    }),
});
