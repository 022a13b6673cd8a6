import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Orm } from '../db/orm.js';
import { FAULT_CODES } from '../queue/failure-reason.js';
import { JOB_STATES } from '../queue/job-states.js';
import type { RetirementQueue } from '../queue/retirement-queue.js';
import { withTimeout } from '../queue/with-timeout.js';

/*
 * Every metric the ledger exports, in one place so the README's list and the
 * code cannot drift. Each process builds its own Registry: the API registers
 * the HTTP, queue and pool metrics, the worker the queue, pool, job and
 * reconciler ones. Both add prom-client's process metrics (process_*, nodejs_*).
 */

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Jobs by state, read from Redis when scraped (so every process reports the
 * same figure: aggregate with max(), not sum()). When Redis does not answer in
 * time the gauge is left empty rather than showing a stale depth.
 */
export function registerQueueDepth(registry: Registry, retirements: RetirementQueue, timeoutMs: number): void {
  const gauge: Gauge<'state'> = new Gauge({
    name: 'ledger_queue_jobs',
    help: 'Retirement jobs in Redis by BullMQ state, read at scrape time',
    labelNames: ['state'],
    registers: [registry],
    aggregator: 'max',
    async collect() {
      gauge.reset();
      const counts = await withTimeout(retirements.queue.getJobCounts(...JOB_STATES), timeoutMs, 'queue depth').catch(() => null);
      if (!counts) return;
      for (const state of JOB_STATES) gauge.set({ state }, counts[state] ?? 0);
    },
  });
}

/** The part of tarn's pool (under knex, under MikroORM) that tells how it is used. */
type TarnPool = { max: number; numUsed(): number; numFree(): number; numPendingAcquires(): number; numPendingCreates(): number };

function poolOf(orm: Orm): TarnPool | null {
  const client = orm.em.getConnection().getKnex().client as { pool?: TarnPool | null };
  return client.pool ?? null;
}

/** This process's PostgreSQL pool: connections in use, idle, being opened, and callers waiting for one. */
export function registerDbPool(registry: Registry, orm: Orm): void {
  const connections: Gauge<'state'> = new Gauge({
    name: 'ledger_db_pool_connections',
    help: "This process's PostgreSQL pool: connections by state (used, free, pending_create) and callers waiting (pending_acquire)",
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const pool = poolOf(orm);
      connections.set({ state: 'used' }, pool?.numUsed() ?? 0);
      connections.set({ state: 'free' }, pool?.numFree() ?? 0);
      connections.set({ state: 'pending_create' }, pool?.numPendingCreates() ?? 0);
      connections.set({ state: 'pending_acquire' }, pool?.numPendingAcquires() ?? 0);
    },
  });
  const max: Gauge = new Gauge({
    name: 'ledger_db_pool_max',
    help: "Most PostgreSQL connections this process's pool opens (DB_POOL_MAX)",
    registers: [registry],
    collect() {
      max.set(poolOf(orm)?.max ?? 0);
    },
  });
}

export type HttpMetrics = { observe(labels: { procedure: string; status: number }, seconds: number): void };

/** The API's answers: how long each took, by tRPC procedure (or route) and HTTP status. */
export function registerHttpMetrics(registry: Registry): HttpMetrics {
  const duration = new Histogram({
    name: 'ledger_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by tRPC procedure (a batch of several: "batch"; other routes: their path) and status',
    labelNames: ['procedure', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return { observe: ({ procedure, status }, seconds) => duration.observe({ procedure, status: String(status) }, seconds) };
}

/** What a retirement attempt ended as, in the worker. */
export type AttemptOutcome = 'retired' | 'already_retired' | 'rejected' | 'transient_fault';
/** Why an attempt failed: failure-reason.ts's fault codes, or `rejected` when a rule said no. */
export type FailureKind = (typeof FAULT_CODES)[number] | 'rejected';

export type WorkerMetrics = {
  attempt(outcome: AttemptOutcome): void;
  failure(kind: FailureKind): void;
  /** From the request's requestedAt (in the credit's stream) to the commit of its `retired` event. */
  retired(latencySeconds: number): void;
  reconcileRun(result: { enqueued: number; stalledOut: number } | 'error'): void;
};

export function registerWorkerMetrics(registry: Registry): WorkerMetrics {
  const attempts = new Counter({
    name: 'ledger_retirement_attempts_total',
    help: 'Retirement job attempts by outcome: retired, already_retired, rejected (a rule said no), transient_fault (retried)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'ledger_retirement_failures_total',
    help: `Failed retirement attempts by kind: ${FAULT_CODES.join(', ')} (failure-reason.ts), or rejected`,
    labelNames: ['kind'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'ledger_retirement_latency_seconds',
    help: 'From a retirement request (its requestedAt) to its retired event being committed',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers: [registry],
  });
  const runs = new Counter({
    name: 'ledger_reconciler_runs_total',
    help: 'Reconciler runs by result (ok, error)',
    labelNames: ['result'],
    registers: [registry],
  });
  const reenqueued = new Counter({
    name: 'ledger_reconciler_reenqueued_total',
    help: 'Pending retirements the reconciler found without a live job and enqueued again',
    registers: [registry],
  });
  const stalledOut = new Counter({
    name: 'ledger_reconciler_stalled_out_total',
    help: 'Pending retirements the reconciler ended as failed because their job stalled out',
    registers: [registry],
  });
  // Zero from the start, so rate() and alerts see every series before its first event.
  for (const outcome of ['retired', 'already_retired', 'rejected', 'transient_fault'] satisfies AttemptOutcome[]) attempts.inc({ outcome }, 0);
  for (const kind of [...FAULT_CODES, 'rejected'] satisfies FailureKind[]) failures.inc({ kind }, 0);
  for (const result of ['ok', 'error']) runs.inc({ result }, 0);
  return {
    attempt: (outcome) => attempts.inc({ outcome }),
    failure: (kind) => failures.inc({ kind }),
    retired: (seconds) => latency.observe(Math.max(0, seconds)),
    reconcileRun(result) {
      if (result === 'error') {
        runs.inc({ result: 'error' });
        return;
      }
      runs.inc({ result: 'ok' });
      reenqueued.inc(result.enqueued);
      stalledOut.inc(result.stalledOut);
    },
  };
}
