import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { publicAttemptReason } from '../queue/failure-reason.js';
import type { RetirementQueue } from '../queue/retirement-queue.js';
import { withTimeout } from '../queue/with-timeout.js';
import { handleCommand, type Handled } from './command-handler.js';
import { decide } from './decider.js';
import { DomainError } from './errors.js';
import { readStream } from './event-store.js';
import { actOnPart } from './part.handler.js';
import { replay } from './state.js';

export type RetireRequest = {
  id: string;
  beneficiary: string;
  reason: string | null;
  /** Retire only this part of the credit: it is split off first, in the same transaction, and retired on its own. */
  part?: { quantity: string; requestId: string };
};
type Deps = {
  em: EntityManager;
  retirements: RetirementQueue;
  logger: Logger;
  lockTimeoutMs: number;
  /** The HTTP request's ID, handed to the job so the worker's log lines for it carry it too. */
  requestId?: string;
};

/**
 * Records the request in the credit's own stream first, under the row lock,
 * and only then asks Redis for a job. If Redis is down the request is still
 * durable, and the reconciler enqueues it later: accepted means never lost.
 * With a part, the credit whose retirement is requested is the part (its ID
 * is the answer's creditId and jobId: still one job per credit).
 */
/** One object type, not a union of the branches': the client package's contract spells outputs as plain data. */
export type RetireAnswer = { creditId: string; jobId: string; status: 'queued' | 'processing'; deduplicated: boolean; partOf?: string };

export async function requestRetirement(deps: Deps, req: RetireRequest, actor: string, now: Date): Promise<RetireAnswer> {
  const command = { type: 'request_retirement', beneficiary: req.beneficiary, reason: req.reason } as const;
  const opts = { lockTimeoutMs: deps.lockTimeoutMs, now };
  const { creditId, appended, parentId } = req.part
    ? await actOnPart(deps.em, { parentId: req.id, ...req.part }, (credit) => ({ events: decide(command, credit) }), { ...opts, actor })
    : { creditId: req.id, parentId: null, ...(await handleCommand(deps.em, req.id, (state) => ({ events: decide(command, state), actor }), opts)) };
  const deduplicated = !appended.some((e) => e.type === 'retirement_requested');

  let status: 'queued' | 'processing' = 'queued';
  try {
    status = (await withTimeout(deps.retirements.ensureJob(creditId, deps.requestId ? { requestId: deps.requestId } : {}), 3000, 'enqueue')).state;
  } catch (err) {
    deps.logger.warn({ err, creditId }, 'retirement recorded but not enqueued; the reconciler will enqueue it');
  }
  return { creditId, jobId: creditId, status, deduplicated, ...(parentId && parentId !== creditId ? { partOf: parentId } : {}) };
}

export type RetirementStatus = {
  status: 'not_requested' | 'queued' | 'processing' | 'retired' | 'failed' | 'cancelled';
  attempts: number;
  failedReason?: string;
  retiredAt?: string;
  /** For a cancelled credit: when, and why; it can never be retired. */
  cancellation?: { cancelledAt: string; reason: string };
  retirement?: { beneficiary: string; reason: string | null; requestedBy: string; requestedAt: string; retiredAt: string };
};

/** PostgreSQL decides retired and failed; the queue only refines "pending" into queued or processing. */
export async function retirementStatus(deps: Deps, id: string): Promise<RetirementStatus> {
  const state = replay(await readStream(deps.em, id));
  if (state.status === 'absent') throw new DomainError('CREDIT_NOT_FOUND', `credit ${id} not found`);
  if (state.status === 'retired') {
    const r = state.retirement;
    const retiredAt = r.retiredAt.toISOString();
    return {
      status: 'retired',
      attempts: r.attempts,
      retiredAt,
      retirement: { beneficiary: r.beneficiary, reason: r.reason, requestedBy: r.requestedBy, requestedAt: r.requestedAt.toISOString(), retiredAt },
    };
  }
  if (state.status === 'cancelled') {
    return { status: 'cancelled', attempts: 0, cancellation: { cancelledAt: state.cancellation.cancelledAt.toISOString(), reason: state.cancellation.reason } };
  }
  if (state.pending) {
    const snap = await withTimeout(deps.retirements.snapshot(id), 2000, 'job lookup').catch(() => null);
    return {
      status: snap?.state === 'processing' ? 'processing' : 'queued',
      attempts: snap?.attemptsMade ?? 0,
      // The last attempt's failure, while more attempts may follow.
      ...(snap?.failedReason ? { failedReason: publicAttemptReason(snap.failedReason) } : {}),
    };
  }
  if (state.lastFailure) {
    return { status: 'failed', attempts: state.lastFailure.attempts, failedReason: state.lastFailure.failedReason };
  }
  return { status: 'not_requested', attempts: 0 };
}

/** The system actor that records failures it finds (out of attempts, stalled out). */
export const WORKER_ACTOR = 'system:retirement-worker';

/**
 * Ends a pending retirement request as failed, for good, with `reason`
 * (written by us: see queue/failure-reason.ts). With `requestedBefore`, only a
 * request made before that instant is ended: a newer request is not the one
 * the evidence is about. Nothing is written when no request is pending.
 */
export function failRetirement(
  em: EntityManager,
  creditId: string,
  failure: { reason: string; attempts: number; requestedBefore?: Date },
  opts: { lockTimeoutMs: number },
): Promise<Handled> {
  return handleCommand(
    em,
    creditId,
    (state) => {
      const pending = state.status === 'active' ? state.pending : null;
      if (!pending || (failure.requestedBefore && pending.requestedAt > failure.requestedBefore)) return { events: [], actor: WORKER_ACTOR };
      return { events: decide({ type: 'fail_retirement', failedReason: failure.reason, attempts: failure.attempts }, state), actor: WORKER_ACTOR };
    },
    { lockTimeoutMs: opts.lockTimeoutMs, now: new Date() },
  );
}
