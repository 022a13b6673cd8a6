import type { EntityManager } from '@mikro-orm/postgresql';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { decide, type CreditCommand } from '../server/credits/decider.js';
import { DomainError } from '../server/credits/errors.js';
import { appendToStream, headOf, lockLogForAppend, readStream } from '../server/credits/event-store.js';
import { lockCredit, projectionOf, saveProjection } from '../server/credits/projection.js';
import { replay } from '../server/credits/state.js';
import type { Orm } from '../server/db/orm.js';
import type { RetirementJobData } from '../server/queue/retirement-queue.js';
import { describeTransientFault } from './failure-reason.js';

export const WORKER_ACTOR = 'system:retirement-worker';

type Outcome = { kind: 'retired' } | { kind: 'already_retired' } | { kind: 'rejected'; reason: string };

/**
 * Applies one command to a credit under its row lock. Everything the decision
 * depends on is read after the lock is held, so a second worker running the
 * same job waits here and then sees the first one's events.
 */
async function applyLocked(
  em: EntityManager,
  creditId: string,
  command: (attempts: number) => CreditCommand,
  attempt: number,
  lockTimeoutMs: number,
  testHoldLockMs = 0,
): Promise<Outcome> {
  return em.transactional(async (tx) => {
    await tx.execute(`set local lock_timeout = ${Math.trunc(lockTimeoutMs)}`);
    if (!(await lockCredit(tx, creditId))) return { kind: 'rejected', reason: `credit ${creditId} not found` };
    // Test-only fault injection (WORKER_TEST_HOLD_LOCK_MS, see options.ts): 0 in production.
    if (testHoldLockMs > 0) await new Promise((resolve) => setTimeout(resolve, testHoldLockMs));
    const history = await readStream(tx, creditId);
    const state = replay(history);
    let events;
    let rejection: string | null = null;
    try {
      events = decide(command(attempt), state);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      // A rule said no: record it on the request so the status can say why.
      rejection = err.message;
      events = decide({ type: 'fail_retirement', failedReason: err.message, attempts: attempt }, state);
    }
    if (events.length === 0) return rejection ? { kind: 'rejected', reason: rejection } : { kind: 'already_retired' };
    // A retirement is done on behalf of whoever asked for it; a failure is the worker's own finding.
    const requester = state.status === 'active' ? state.pending?.requestedBy : undefined;
    const actor = events[0]?.type === 'retired' && requester ? requester : WORKER_ACTOR;
    await lockLogForAppend(tx);
    const appended = await appendToStream(tx, creditId, headOf(history), events, { actor, now: new Date() });
    const next = replay(appended, state);
    if (next.status !== 'absent') await saveProjection(tx, projectionOf(next));
    return rejection ? { kind: 'rejected', reason: rejection } : { kind: 'retired' };
  });
}

export type ProcessorDeps = {
  orm: Orm;
  logger: Logger;
  lockTimeoutMs: number;
  /** Test-only: pause this long holding the row lock on each attempt. Default 0 (no pause). */
  testHoldLockMs?: number;
};

export function createRetirementProcessor(deps: ProcessorDeps) {
  return async (job: Job<RetirementJobData>): Promise<Outcome> => {
    const { creditId } = job.data;
    const attempt = job.attemptsMade + 1;
    const em = deps.orm.em.fork();
    try {
      const outcome = await applyLocked(em, creditId, (attempts) => ({ type: 'retire', attempts }), attempt, deps.lockTimeoutMs, deps.testHoldLockMs);
      if (outcome.kind === 'rejected') throw new UnrecoverableError(outcome.reason);
      deps.logger.info({ creditId, attempt, outcome: outcome.kind }, 'retirement job done');
      return outcome;
    } catch (err) {
      if (err instanceof UnrecoverableError) throw err;
      const maxAttempts = job.opts.attempts ?? 1;
      if (attempt >= maxAttempts) await giveUp(deps, creditId, err, attempt);
      // Transient: BullMQ retries with backoff. Never swallow it.
      throw err;
    }
  };
}

/**
 * Recording the outcome waits this many times longer for the credit's row lock
 * than an attempt does. Writing `retirement_failed` needs the same lock the
 * attempts could not get; with the same short wait it failed whenever the
 * attempts had failed on lock contention, the request stayed pending, and the
 * reconciler started a fresh round of attempts, forever: RETIREMENT_MAX_ATTEMPTS
 * was never honoured and callers never saw a final status.
 */
export const GIVE_UP_LOCK_PATIENCE = 10;

/**
 * Out of attempts on a transient fault: record the failure so callers stop
 * waiting. If even that fails (PostgreSQL still down, or the row lock still
 * held after the longer wait) the request stays pending, and the reconciler
 * will enqueue it again later.
 */
async function giveUp(deps: ProcessorDeps, creditId: string, cause: unknown, attempt: number): Promise<void> {
  const reason = `gave up after ${attempt} attempts: ${describeTransientFault(cause)}`;
  const lockWaitMs = deps.lockTimeoutMs * GIVE_UP_LOCK_PATIENCE;
  deps.logger.warn({ creditId, attempt, lockWaitMs, err: cause }, 'out of attempts; recording the failure');
  try {
    await applyLocked(deps.orm.em.fork(), creditId, (attempts) => ({ type: 'fail_retirement', failedReason: reason, attempts }), attempt, lockWaitMs);
    deps.logger.warn({ creditId, attempt, reason }, 'retirement failed for good');
  } catch (err) {
    deps.logger.error({ err, creditId }, 'could not record the failure; the request stays pending for the reconciler');
  }
}
