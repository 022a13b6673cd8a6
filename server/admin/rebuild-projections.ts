import type { EntityManager } from '@mikro-orm/postgresql';
import type { Command } from 'commander';
import type * as Lazy from './lazy.js';
import { DomainError } from '../credits/errors.js';
import { replay } from '../credits/state.js';
import { databaseUrl, ENV_DEFAULTS, intOption, lockTimeoutMs } from './config.js';
import { EXIT, errorMessage, type ExitCode } from './errors.js';
import { formatDuration, Output } from './output.js';
import { createProgress, type Progress } from './progress.js';

/** Set by runRebuild before anything below runs. */
let lazy: typeof Lazy;

type RebuildOptions = { json?: boolean; batchSize: number; all?: boolean; quiet?: boolean };

type RebuildCounts = {
  /** Credits whose row was rewritten (or written: it was missing) from their events. */
  rebuilt: number;
  /** Credits whose row already equalled the replay. */
  unchanged: number;
  /** Rows of the credits table with no events at all, deleted. */
  removed: number;
  /** Credits that could not be rebuilt (lock timeout, events that make no credit, a serial held by another row). */
  failed: number;
};

const MAX_LISTED = 1000;

export function registerRebuildProjections(program: Command): void {
  program
    .command('rebuild-projections')
    .description('rebuild the credits table from the event log, safely while the service runs (PostgreSQL: DATABASE_URL)')
    .option('--json', 'print the counts as JSON')
    .option('--batch-size <n>', 'credits compared per read (10-10000)', intOption('--batch-size', 10, 10_000), 500)
    .option('--all', 'take every credit through the locked rebuild, not only those whose row differs')
    .option('--quiet', 'no progress output')
    .addHelpText(
      'after',
      `
Credits are read in batches and each row is compared with the replay of its
events. Every credit whose row differs (or is missing) is then rebuilt in its
own transaction: lock its row (SELECT … FOR UPDATE, the lock every writer
takes, waiting at most DB_LOCK_TIMEOUT_MS, default ${ENV_DEFAULTS.DB_LOCK_TIMEOUT_MS}), re-read its events,
replay, save the projection. Writers are blocked only for that one credit and
only for that moment. Rows without any event are deleted the same way.

Exit code: 0 done, 1 some credits could not be rebuilt (listed), 2
usage/connection error.`,
    )
    .action(async (opts: RebuildOptions) => {
      process.exitCode = await runRebuild(opts, new Output(Boolean(opts.json)));
    });
}

async function runRebuild(opts: RebuildOptions, out: Output): Promise<ExitCode> {
  const startedAt = Date.now();
  const counts: RebuildCounts = { rebuilt: 0, unchanged: 0, removed: 0, failed: 0 };
  const failures: { creditId: string; reason: string }[] = [];
  const lockMs = lockTimeoutMs();
  const url = databaseUrl();
  lazy = await import('./lazy.js');
  await lazy.withDatabase(url, async (em) => {
    const progress = createProgress({ label: 'rebuild', total: await lazy.countEvents(em, 'streams'), unit: 'credits', quiet: Boolean(opts.quiet) });
    const fail = (creditId: string, reason: string) => {
      counts.failed++;
      if (failures.length < MAX_LISTED) failures.push({ creditId, reason });
      progress.log(`credit ${creditId}: not rebuilt: ${reason}`);
    };
    try {
      await rebuildFromEvents(em, opts, lockMs, counts, fail, progress);
      await removeOrphans(em, lockMs, counts, fail);
    } finally {
      progress.stop();
    }
  });
  const durationMs = Date.now() - startedAt;
  const ok = counts.failed === 0;
  out.result({ ok, ...counts, failures, durationMs }, () => [
    `rebuild-projections: ${counts.rebuilt} rebuilt, ${counts.unchanged} unchanged, ${counts.removed} rows without events removed, ${counts.failed} failed (${formatDuration(durationMs)})`,
    ...failures.map((f) => `  failed ${f.creditId}: ${f.reason}`),
  ]);
  return ok ? EXIT.ok : EXIT.failures;
}

/** Walks every credit that has events, in ID order, a batch at a time. */
async function rebuildFromEvents(
  em: EntityManager,
  opts: RebuildOptions,
  lockMs: number,
  counts: RebuildCounts,
  fail: (creditId: string, reason: string) => void,
  progress: Progress,
): Promise<void> {
  let after = '';
  let seen = 0;
  for (;;) {
    const ids = await lazy.streamIds(em, after, opts.batchSize);
    if (ids.length === 0) return;

    // Cheap unlocked look first; only suspects go through the locked rebuild.
    const suspects = opts.all ? ids : await differing(em, ids);
    counts.unchanged += ids.length - suspects.length;
    for (const id of suspects) {
      try {
        const outcome = await rebuildOne(em.fork(), id, lockMs);
        if (outcome === 'unchanged') counts.unchanged++;
        else if (outcome === 'rebuilt') counts.rebuilt++;
        else fail(id, outcome.failed);
      } catch (err) {
        fail(id, errorMessage(err));
      }
    }
    seen += ids.length;
    progress.update(seen, seen);
    if (ids.length < opts.batchSize) return;
    after = ids.at(-1) ?? after;
  }
}

/** The IDs among `ids` whose row is missing or differs from the replay of their events (read without locks). */
async function differing(em: EntityManager, ids: string[]): Promise<string[]> {
  const { findCredits, projectionDiff, projectionOf, readStreams } = lazy;
  const streams = await readStreams(em, ids);
  const projections = new Map((await findCredits(em, ids)).map((r) => [r.id, r]));
  return ids.filter((id) => {
    const state = replay(streams.get(id) ?? []);
    const row = projections.get(id);
    return state.status === 'absent' || !row || projectionDiff(projectionOf(state), row).length > 0;
  });
}

type RebuildOutcome = 'rebuilt' | 'unchanged' | { failed: string };

/**
 * The credit's row, rewritten from its events through the command handler
 * with a command that decides nothing: it takes the row lock every writer of
 * the credit takes, replays, and repairs the row if it differs.
 */
async function rebuildOne(em: EntityManager, creditId: string, lockMs: number): Promise<RebuildOutcome> {
  try {
    const { projectionRepaired } = await lazy.handleCommand(em, creditId, () => ({ events: [], actor: 'system:rebuild-projections' }), {
      lockTimeoutMs: lockMs,
      now: new Date(),
    });
    return projectionRepaired ? 'rebuilt' : 'unchanged';
  } catch (err) {
    if (err instanceof DomainError && err.code === 'CREDIT_NOT_FOUND') return { failed: 'its events do not bring a credit into existence (see `verify`)' };
    throw err;
  }
}

/** Deletes credits rows that no event explains, each under its row lock. */
async function removeOrphans(em: EntityManager, lockMs: number, counts: RebuildCounts, fail: (creditId: string, reason: string) => void): Promise<void> {
  const { deleteOrphanCredit, lockCredit, orphanCreditIds } = lazy;
  let after = '';
  for (;;) {
    const orphans = await orphanCreditIds(em, after, 500);
    for (const id of orphans) {
      try {
        // Checked again under the lock: a create commits its row and its event together.
        const deleted = await lazy.lockingTransaction(em.fork(), id, lockMs, async (tx) => ((await lockCredit(tx, id)) ? deleteOrphanCredit(tx, id) : false));
        if (deleted) counts.removed++;
      } catch (err) {
        fail(id, errorMessage(err));
      }
    }
    const last = orphans.at(-1);
    if (!last || orphans.length < 500) return;
    after = last;
  }
}
