/**
 * The heavy half of the script: MikroORM (~0.5 s to load) and BullMQ
 * (~0.2 s), and the server modules that pull them in. Commands import this
 * when they run (`await import('./lazy.js')`), so `--help`, `import` and
 * `keys` start without loading what they never use.
 */
export { IsolationLevel } from '@mikro-orm/postgresql';
export { handleCommand, lockingTransaction } from '../credits/command-handler.js';
export { deleteOrphanCredit, findCredits, lockCredit, orphanCreditIds } from '../credits/credit-store.js';
export { countEvents, orphanParts, readByStream, readStreams, splitsWithParts, streamIds, supplyTotals } from '../credits/event-store.js';
export { projectionDiff, projectionOf } from '../credits/projection.js';
export { eventView } from '../credits/read.handlers.js';
export { CreditStreamCheck, orphanPart, orphanProjection, partMismatch, splitIssue, supplyIssue } from '../ledger-check/verifier.js';
export { withDatabase, withQueue } from './services.js';
