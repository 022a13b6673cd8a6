import type { Job } from 'bullmq';
import type { Command } from 'commander';
import { JOB_STATES } from '../queue/job-states.js';
import { reconcile } from '../queue/reconcile.js';
import type { RetirementJobData } from '../queue/retirement-queue.js';
import { databaseUrl, ENV_DEFAULTS, intOption, lockTimeoutMs, queueConfig } from './config.js';
import { EXIT, type ExitCode } from './errors.js';
import { formatDuration, Output, table } from './output.js';

type JsonOption = { json?: boolean };
type StatusOptions = JsonOption & { limit: number };

export function registerQueue(program: Command): void {
  const queue = program
    .command('queue')
    .description('the retirement queue (Redis: REDIS_URL, QUEUE_PREFIX): status, retry failed jobs, reconcile')
    .addHelpText(
      'after',
      `
Without a subcommand, shows the status (the same as \`queue status\`).
Reads Redis directly (REDIS_URL, QUEUE_PREFIX default '${ENV_DEFAULTS.QUEUE_PREFIX}'); \`queue
reconcile\` also reads PostgreSQL (DATABASE_URL).`,
    );

  queue
    .command('status', { isDefault: true })
    .description('job counts by state, age of the oldest waiting job, failed jobs with their reasons')
    .option('--json', 'print the status as JSON')
    .option('--limit <n>', 'failed jobs to list (0-1000)', intOption('--limit', 0, 1000), 20)
    .addHelpText('after', '\nExit code: 0 no failed jobs, 1 failed jobs are present (listed), 2 usage/connection error.')
    .action(async (opts: StatusOptions) => {
      process.exitCode = await queueStatus(opts, new Output(Boolean(opts.json)));
    });

  queue
    .command('retry-failed')
    .description('move failed jobs back to waiting so a worker runs them again (all failed jobs when no IDs are given)')
    .argument('[ids...]', 'job IDs (= credit IDs) to retry')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
A retried job retires its credit only if the credit still has a pending
retirement request (e.g. the worker could not record its failure); a request
whose failure was recorded needs a new credits.retire call instead.

Exit code: 0 every job asked for was retried, 1 some ID is not a failed job,
2 usage/connection error.`,
    )
    .action(async (ids: string[], opts: JsonOption) => {
      process.exitCode = await retryFailed(ids, new Output(Boolean(opts.json)));
    });

  queue
    .command('reconcile')
    .description('make sure every retirement PostgreSQL holds as pending has a live job (as the worker does periodically)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExit code: 0 done, 2 usage/connection error.')
    .action(async (opts: JsonOption) => {
      process.exitCode = await runReconcile(new Output(Boolean(opts.json)));
    });
}

type FailedJob = { id: string; creditId: string | null; attemptsMade: number; failedReason: string; failedAt: string | null };

const failedView = (job: Job<RetirementJobData>): FailedJob => ({
  id: job.id ?? '',
  creditId: job.data?.creditId ?? null,
  attemptsMade: job.attemptsMade,
  failedReason: job.failedReason ?? '',
  failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
});

async function queueStatus(opts: StatusOptions, out: Output): Promise<ExitCode> {
  const cfg = queueConfig();
  const { withQueue } = await import('./lazy.js');
  const status = await withQueue(cfg, async ({ queue }) => {
    const counts = await queue.getJobCounts(...JOB_STATES);
    // The wait list is newest first; asc=true turns it round, so this is the oldest job.
    const [oldest] = (await queue.getJobs(['waiting'], 0, 0, true)) as Job<RetirementJobData>[];
    const failed = opts.limit > 0 ? await queue.getFailed(0, opts.limit - 1) : [];
    return {
      queue: queue.name,
      prefix: cfg.prefix,
      counts: Object.fromEntries(JOB_STATES.map((s) => [s, counts[s] ?? 0])) as Record<(typeof JOB_STATES)[number], number>,
      oldestWaiting: oldest ? { id: oldest.id ?? '', enqueuedAt: new Date(oldest.timestamp).toISOString(), ageMs: Date.now() - oldest.timestamp } : null,
      failed: failed.map(failedView),
    };
  });
  const failedTotal = status.counts.failed;
  out.result({ ok: failedTotal === 0, ...status }, () => {
    const lines = [
      `queue ${status.prefix}:${status.queue}`,
      ...table([
        ['state', 'jobs'],
        ...JOB_STATES.map((s) => [s, String(status.counts[s])]),
      ]).map((l) => `  ${l}`),
      status.oldestWaiting
        ? `oldest waiting job: ${status.oldestWaiting.id}, waiting ${formatDuration(status.oldestWaiting.ageMs)} (since ${status.oldestWaiting.enqueuedAt})`
        : 'oldest waiting job: none waiting',
    ];
    if (failedTotal > 0) {
      lines.push(`failed jobs (${status.failed.length} of ${failedTotal}, newest first):`);
      lines.push(
        ...table([
          ['job', 'attempts', 'failed at', 'reason'],
          ...status.failed.map((f) => [f.id, String(f.attemptsMade), f.failedAt ?? '-', f.failedReason]),
        ]).map((l) => `  ${l}`),
      );
      lines.push('retry them with: npm run admin -- queue retry-failed [id…]');
    }
    return lines;
  });
  return failedTotal > 0 ? EXIT.failures : EXIT.ok;
}

async function retryFailed(ids: string[], out: Output): Promise<ExitCode> {
  const cfg = queueConfig();
  const { withQueue } = await import('./lazy.js');
  const result = await withQueue(cfg, async ({ queue }) => {
    if (ids.length === 0) {
      const before = await queue.getJobCountByTypes('failed');
      // Jobs failing from now on are left for the next run.
      await queue.retryJobs({ state: 'failed', timestamp: Date.now() });
      const after = await queue.getJobCountByTypes('failed');
      return { retried: Math.max(0, before - after), notRetried: [] as { id: string; reason: string }[] };
    }
    let retried = 0;
    const notRetried: { id: string; reason: string }[] = [];
    for (const id of ids) {
      const job = await queue.getJob(id);
      if (!job) {
        notRetried.push({ id, reason: 'no such job' });
        continue;
      }
      const state = await job.getState();
      if (state !== 'failed') {
        notRetried.push({ id, reason: `job is ${state}, not failed` });
        continue;
      }
      await job.retry('failed');
      retried++;
    }
    return { retried, notRetried };
  });
  const ok = result.notRetried.length === 0;
  out.result({ ok, ...result }, () => [
    `retried ${result.retried} failed job(s)`,
    ...result.notRetried.map((n) => `  not retried ${n.id}: ${n.reason}`),
  ]);
  return ok ? EXIT.ok : EXIT.failures;
}

async function runReconcile(out: Output): Promise<ExitCode> {
  const cfg = queueConfig();
  const url = databaseUrl();
  const { withDatabase, withQueue } = await import('./lazy.js');
  const lockMs = lockTimeoutMs();
  const result = await withDatabase(url, (em) => withQueue(cfg, (retirements) => reconcile(em, retirements, { lockTimeoutMs: lockMs })));
  out.result({ ok: true, ...result }, () => [
    `reconcile: ${result.pending} pending retirement(s) in PostgreSQL, ${result.enqueued} job(s) enqueued (the others already had a live job)` +
      (result.stalledOut > 0 ? `; ${result.stalledOut} ended as failed because their job stalled out` : ''),
  ]);
  return EXIT.ok;
}
