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
import { describeTransientFault, faultCode } from '../server/queue/failure-reason.js';
import type { WorkerMetrics } from '../server/ops/metrics.js';

export type ProcessorDeps = {
  orm: Orm;
  logger: Logger;
  metrics: WorkerMetrics;
  lockTimeoutMs: number;
  /** Retirements applied together in one transaction, at most (WORKER_BATCH_SIZE; 1: each alone). */
  batchSize: number;
  /** How long a retirement waits for others to share its transaction (WORKER_BATCH_LINGER_MS). */
  batchLingerMs: number;
  /** Test-only: pause this long holding the row lock on each attempt. Default 0 (no pause). */
  testHoldLockMs?: number;
};

type Outcome = { kind: 'retired' } | { kind: 'already_retired' };

/**
 * One attempt's command. `rejection` says why a rule refused the retirement,
 * when one did; `requestedAt` is when the request was made, as the credit's
 * stream records it (the start of its retirement latency). `log` is the job's
 * own logger, so a batch's lines about a job still carry that job's request ID.
 */
type RetirementCommand = BatchCommand & { log: Logger; rejection(): string | null; requestedAt(): Date | undefined };

function retirementCommand(creditId: string, attempt: number, log: Logger): RetirementCommand {
  let rejection: string | null = null;
  let requestedAt: Date | undefined;
  return {
    creditId,
    log,
    rejection: () => rejection,
    requestedAt: () => requestedAt,
    decide(state) {
      // Decided afresh each time it runs: a batch that rolled back is done again alone.
      rejection = null;
      requestedAt = state.status === 'active' ? state.pending?.requestedAt : undefined;
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
        // Said on each job's own line, so that whoever follows one request ID sees why its retirement was done alone.
        for (const c of commands) c.log.warn({ err, credits: first.length }, 'a batch of retirements failed as a whole; each is done alone');
        return commands.map((): BatchOutcome => ({ kind: 'alone' }));
      }
    },
    { cache: false, maxBatchSize: deps.batchSize, batchScheduleFn: (run) => setTimeout(run, deps.batchLingerMs) },
  );

  return async (job: Job<RetirementJobData>): Promise<Outcome> => {
    const { creditId, requestId } = job.data;
    // Every line about this job names its credit and, when an API request added it, that request's ID.
    const log = deps.logger.child(requestId ? { requestId, creditId } : { creditId });
    const attempt = job.attemptsMade + 1;
    const command = retirementCommand(creditId, attempt, log);
    try {
      const batched: BatchOutcome = deps.batchSize > 1 ? await batches.load(command) : { kind: 'alone' };
      if (batched.kind === 'refused') throw batched.error;
      const { appended } = batched.kind === 'handled' ? batched.handled : await handleCommand(deps.orm.em.fork(), creditId, command.decide, handleOptions());
      const rejection = command.rejection();
      if (rejection) throw new UnrecoverableError(rejection);
      const outcome: Outcome = appended.length > 0 ? { kind: 'retired' } : { kind: 'already_retired' };
      deps.metrics.attempt(outcome.kind);
      const requestedAt = command.requestedAt();
      if (outcome.kind === 'retired' && requestedAt) deps.metrics.retired((Date.now() - requestedAt.getTime()) / 1000);
      log.info({ attempt, outcome: outcome.kind, batched: batched.kind === 'handled' }, 'retirement job done');
      return outcome;
    } catch (err) {
      if (err instanceof UnrecoverableError || (err instanceof DomainError && err.code !== 'CREDIT_BUSY')) {
        deps.metrics.attempt('rejected');
        deps.metrics.failure('rejected');
        log.info({ attempt, reason: err.message }, 'retirement rejected by a rule');
        throw err instanceof UnrecoverableError ? err : new UnrecoverableError(err.message);
      }
      deps.metrics.attempt('transient_fault');
      deps.metrics.failure(faultCode(err));
      log.warn({ attempt, err }, 'transient fault in a retirement attempt');
      if (attempt >= (job.opts.attempts ?? 1)) await giveUp({ ...deps, logger: log }, creditId, err, attempt);
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
 * will enqueue it again later. `deps.logger` is the job's child logger, whose
 * lines already name the credit.
 */
async function giveUp(deps: ProcessorDeps, creditId: string, cause: unknown, attempt: number): Promise<void> {
  const reason = `gave up after ${attempt} attempts: ${describeTransientFault(cause)}`;
  const lockTimeoutMs = deps.lockTimeoutMs * GIVE_UP_LOCK_PATIENCE;
  deps.logger.warn({ attempt, lockTimeoutMs, err: cause }, 'out of attempts; recording the failure');
  try {
    await failRetirement(deps.orm.em.fork(), creditId, { reason, attempts: attempt }, { lockTimeoutMs });
    deps.logger.warn({ attempt, reason }, 'retirement failed for good');
  } catch (err) {
    deps.logger.error({ err }, 'could not record the failure; the request stays pending for the reconciler');
  }
}
