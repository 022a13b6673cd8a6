/**
 * BullMQ's job states, in the order `npm run admin -- queue` lists them and
 * the queue-depth metric labels them. A module of its own, with no imports,
 * so the admin script can name them without loading BullMQ.
 */
export const JOB_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'waiting-children', 'completed', 'failed'] as const;
