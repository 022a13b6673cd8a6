import { keysRouter } from '../auth/keys.router.js';
import { creditsRouter } from '../credits/router.js';
import { eventsRouter } from '../events/router.js';
import { supplyRouter } from '../credits/supply.router.js';
import { checkpointsRouter } from '../proofs/router.js';
import { router } from './init.js';

export const appRouter = router({
  credits: creditsRouter,
  events: eventsRouter,
  keys: keysRouter,
  supply: supplyRouter,
  checkpoints: checkpointsRouter,
});

/** The only thing clients import from the server, and only as a type. */
export type AppRouter = typeof appRouter;
