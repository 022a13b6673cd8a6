import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { producerConnection } from './redis.js';

export const RETIREMENT_QUEUE = 'retirements';

/**
 * The job carries the credit ID (the request itself lives in PostgreSQL) and,
 * when an API request added it, that request's ID, so the worker's log lines
 * for the retirement carry it too. Jobs the reconciler adds have none.
 */
export type RetirementJobData = { creditId: string; requestId?: string };

const retirementJobOptions = (creditId: string, attempts: number): JobsOptions => ({
  // Job ID = credit ID: BullMQ ignores an add whose ID already exists.
  jobId: creditId,
  attempts,
  backoff: { type: 'exponential', delay: 500 },
  // Bounded retention: PostgreSQL keeps the history, Redis need not.
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
});

export type LiveJobState = 'queued' | 'processing';
export type JobSnapshot = {
  state: LiveJobState | 'completed' | 'failed';
  attemptsMade: number;
  /** BullMQ's own text for a failure: for operators; callers get failure-reason.ts's words instead. */
  failedReason?: string;
  /** When the job was added (ms since the epoch). */
  addedAt: number;
  /** Failed because its workers kept dying on it (more than RETIREMENT_MAX_STALLS stalls). */
  stalledOut: boolean;
};

/** BullMQ's failedReason for a job that stalled more than maxStalledCount times. */
export const STALLED_OUT = /stalled more than allowable limit/;

export class RetirementQueue {
  readonly queue: Queue<RetirementJobData>;
  private readonly connection: Redis;

  constructor(
    redisUrl: string,
    readonly opts: { prefix: string; attempts: number; onError?: (err: Error) => void },
  ) {
    this.connection = producerConnection(redisUrl);
    this.connection.on('error', (err) => opts.onError?.(err));
    this.queue = new Queue<RetirementJobData>(RETIREMENT_QUEUE, { connection: this.connection, prefix: opts.prefix });
    this.queue.on('error', (err) => opts.onError?.(err));
  }

  /**
   * Makes sure a live job exists for the credit, in two Redis round trips
   * when there is none (state, add) and one when there is. A finished job
   * with the same ID would turn `add` into a silent no-op, so it is removed
   * first: its outcome is already recorded in PostgreSQL. `stillWanted` is
   * asked before a finished job is replaced (PostgreSQL commits before BullMQ
   * marks a job finished, so its answer then is the truth).
   */
  async ensureJob(
    creditId: string,
    opts: { stillWanted?: () => Promise<boolean>; requestId?: string } = {},
  ): Promise<{ state: LiveJobState; added: boolean }> {
    const state = await this.queue.getJobState(creditId);
    if (state === 'active') return { state: 'processing', added: false };
    if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return { state: 'queued', added: false };
    // A caller that read "pending" a moment ago may be looking at a request this very job has just finished.
    if (opts.stillWanted && !(await opts.stillWanted())) return { state: 'queued', added: false };
    // A concurrent enqueuer may have removed it already.
    if (state !== 'unknown') await this.queue.remove(creditId).catch(() => 0);
    const data: RetirementJobData = opts.requestId ? { creditId, requestId: opts.requestId } : { creditId };
    await this.queue.add('retire', data, retirementJobOptions(creditId, this.opts.attempts));
    return { state: 'queued', added: true };
  }

  async snapshot(creditId: string): Promise<JobSnapshot | null> {
    const job = await this.queue.getJob(creditId);
    if (!job) return null;
    const state = await job.getState();
    const mapped: JobSnapshot['state'] =
      state === 'active' ? 'processing' : state === 'completed' ? 'completed' : state === 'failed' ? 'failed' : 'queued';
    return {
      state: mapped,
      attemptsMade: job.attemptsMade,
      ...(job.failedReason ? { failedReason: job.failedReason } : {}),
      addedAt: job.timestamp,
      stalledOut: mapped === 'failed' && STALLED_OUT.test(job.failedReason),
    };
  }

  /**
   * PING on the producer connection. While the first connection is still
   * being made it waits for it (the caller bounds the wait); once Redis has
   * been lost it fails at once, as the producer has no offline queue.
   */
  async ping(): Promise<string> {
    if (['wait', 'connecting', 'connect'].includes(this.connection.status)) {
      await new Promise<void>((resolve, reject) => {
        const ready = () => {
          this.connection.off('end', ended);
          resolve();
        };
        const ended = () => {
          this.connection.off('ready', ready);
          reject(new Error('Redis connection ended'));
        };
        this.connection.once('ready', ready).once('end', ended);
      });
    }
    return this.connection.ping();
  }

  async close(): Promise<void> {
    await this.queue.close();
    this.connection.disconnect();
  }
}
