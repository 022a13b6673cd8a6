import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import DataLoader from 'dataloader';
import { handleCommands, type BatchCommand, type BatchOutcome } from '../server/credits/batch-handler.js';
import { handleCommand } from '../server/credits/command-handler.js';
import { decide } from '../server/credits/decider.js';
import { DomainError } from '../server/credits/errors.js';
import type { Orm } from '../server/db/orm.js';
import { GIVE_UP_LOCK_PATIENCE } from '../server/env.js';
import type { RetirementJobData } from '../server/queue/retirement-queue.js';
import { failRetirement, WORKER_ACTOR } from '../server/credits/retire.handler.js';
import { describeTransientFault } from '../server/queue/failure-reason.js';

export type ProcessorDeps = {
  orm: Orm;
  logger: Logger;
  lockTimeoutMs: number;
  /** Retirements applied together in one transaction, at most (WORKER_BATCH_SIZE; 1: each alone). */
  batchSize: number;
  /** How long a retirement waits for others to share its transaction (WORKER_BATCH_LINGER_MS). */
  batchLingerMs: number;
  /** Test-only: pause this long holding the row lock on each attempt. Default 0 (no pause). */
  testHoldLockMs?: number;
};

type Outcome = { kind: 'retired' } | { kind: 'already_retired' };

/** One attempt's command; `rejection` says why a rule refused the retirement, when one did. */
type RetirementCommand = BatchCommand & { rejection(): string | null };

function retirementCommand(creditId: string, attempt: number): RetirementCommand {
  let rejection: string | null = null;
  return {
    creditId,
    rejection: () => rejection,
    decide(state) {
      // Decided afresh each time it runs: a batch that rolled back is done again alone.
      rejection = null;
      try {
        // A retirement is done on behalf of whoever asked for it.
        const requester = state.status === 'active' ? state.pending?.requestedBy : undefined;
        return { events: decide({ type: 'retire', attempts: attempt }, state), actor: requester ?? WORKER_ACTOR };
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        // A rule said no: record it on the request so the status can say why; the finding is the worker's own.
        rejection = err.message;
        return { events: decide({ type: 'fail_retirement', failedReason: err.message, attempts: attempt }, state), actor: WORKER_ACTOR };
      }
    },
  };
}

/**
 * One attempt at a retirement job. Everything the decision depends on is read
 * under the credit's row lock (the command handler), so a second worker running
 * the same job waits there and then sees the first one's events. A rule that
 * says no is recorded as `retirement_failed` on the request and ends the job;
 * any other error is transient and BullMQ retries it.
 *
 * Jobs that arrive together (up to `batchSize`, within `batchLingerMs`) share
 * one transaction: one commit for all of them, each credit still locked and
 * decided on its own. A credit the batch could not lock at once, or a batch
 * that failed as a whole, is done alone, which waits for its lock.
 */
export function createRetirementProcessor(deps: ProcessorDeps) {
  const holdMs = deps.testHoldLockMs ?? 0;
  const handleOptions = () => ({ lockTimeoutMs: deps.lockTimeoutMs, now: new Date(), ...(holdMs > 0 ? { afterLock: () => sleep(holdMs) } : {}) });
  const batches = new DataLoader<RetirementCommand, BatchOutcome>(
    async (commands) => {
      // One job per credit is BullMQ's rule; should a credit still come twice, the second waits its turn alone.
      const first = commands.filter((c, i) => commands.findIndex((o) => o.creditId === c.creditId) === i);
      try {
        const outcomes = new Map((await handleCommands(deps.orm.em.fork(), first, handleOptions())).map((o, i) => [first[i], o]));
        return commands.map((c) => outcomes.get(c) ?? { kind: 'alone' });
      } catch (err) {
        deps.logger.warn({ err, credits: first.length }, 'a batch of retirements failed as a whole; each is done alone');
        return commands.map((): BatchOutcome => ({ kind: 'alone' }));
      }
    },
    { cache: false, maxBatchSize: deps.batchSize, batchScheduleFn: (run) => setTimeout(run, deps.batchLingerMs) },
  );

  return async (job: Job<RetirementJobData>): Promise<Outcome> => {
    const { creditId } = job.data;
    const attempt = job.attemptsMade + 1;
    const command = retirementCommand(creditId, attempt);
    try {
      const batched: BatchOutcome = deps.batchSize > 1 ? await batches.load(command) : { kind: 'alone' };
      if (batched.kind === 'refused') throw batched.error;
      const { appended } = batched.kind === 'handled' ? batched.handled : await handleCommand(deps.orm.em.fork(), creditId, command.decide, handleOptions());
      const rejection = command.rejection();
      if (rejection) throw new UnrecoverableError(rejection);
      const outcome: Outcome = appended.length > 0 ? { kind: 'retired' } : { kind: 'already_retired' };
      deps.logger.info({ creditId, attempt, outcome: outcome.kind, batched: batched.kind === 'handled' }, 'retirement job done');
      return outcome;
    } catch (err) {
      if (err instanceof UnrecoverableError) throw err;
      if (err instanceof DomainError && err.code !== 'CREDIT_BUSY') throw new UnrecoverableError(err.message);
      deps.logger.warn({ creditId, attempt, err }, 'transient fault in a retirement attempt');
      if (attempt >= (job.opts.attempts ?? 1)) await giveUp(deps, creditId, err, attempt);
      // Transient: BullMQ retries with backoff. Never swallow it; BullMQ keeps (and the API shows) only our words.
      throw new Error(describeTransientFault(err), { cause: err });
    }
  };
}

/*
 * Recording the outcome waits GIVE_UP_LOCK_PATIENCE times longer for the
 * credit's row lock than an attempt does: it needs the very lock the attempts
 * may have failed to get, and a request whose failure is never recorded stays
 * pending and would be retried by the reconciler without end. (server/env.ts
 * keeps DB_STATEMENT_TIMEOUT_MS above that wait.)
 */

/**
 * Out of attempts on a transient fault: record the failure so callers stop
 * waiting. If even that fails (PostgreSQL still down, or the row lock still
 * held after the longer wait) the request stays pending, and the reconciler
 * will enqueue it again later.
 */
async function giveUp(deps: ProcessorDeps, creditId: string, cause: unknown, attempt: number): Promise<void> {
  const reason = `gave up after ${attempt} attempts: ${describeTransientFault(cause)}`;
  const lockTimeoutMs = deps.lockTimeoutMs * GIVE_UP_LOCK_PATIENCE;
  deps.logger.warn({ creditId, attempt, lockTimeoutMs, err: cause }, 'out of attempts; recording the failure');
  try {
    await failRetirement(deps.orm.em.fork(), creditId, { reason, attempts: attempt }, { lockTimeoutMs });
    deps.logger.warn({ creditId, attempt, reason }, 'retirement failed for good');
  } catch (err) {
    deps.logger.error({ err, creditId }, 'could not record the failure; the request stays pending for the reconciler');
  }
}
