import type { EntityManager } from '@mikro-orm/postgresql';
import type { Command } from 'commander';
import type * as Lazy from './lazy.js';
import { EVENT_COLUMNS, fromRow, readStream, type EventDbRow, type StoredEvent } from '../credits/event-store.js';
import { replay } from '../credits/state.js';
import type { CreditRow } from '../db/entities.js';
import { databaseUrl, ENV_DEFAULTS, intOption, lockTimeoutMs } from './config.js';
import { EXIT, errorMessage, type ExitCode } from './errors.js';
import { formatDuration, Output } from './output.js';
import { createProgress, type Progress } from './progress.js';

/** Set by runRebuild before anything below runs. */
let lazy: typeof Lazy;

type RebuildOptions = { json?: boolean; batchSize: number; all?: boolean; quiet?: boolean };

export type RebuildCounts = {
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

export async function runRebuild(opts: RebuildOptions, out: Output): Promise<ExitCode> {
  const startedAt = Date.now();
  const counts: RebuildCounts = { rebuilt: 0, unchanged: 0, removed: 0, failed: 0 };
  const failures: { creditId: string; reason: string }[] = [];
  const lockMs = lockTimeoutMs();
  const url = databaseUrl();
  lazy = await import('./lazy.js');
  await lazy.withDatabase(url, async (em) => {
    const [{ count } = { count: '0' }] = await em.execute<{ count: string }[]>(`select count(*)::text as count from events where version = 1`);
    const progress = createProgress({ label: 'rebuild', total: Number(count), unit: 'credits', quiet: Boolean(opts.quiet) });
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
    // Every stream starts at version 1, so this lists each credit once, off the (credit_id, version) index.
    const ids = (
      await em.execute<{ credit_id: string }[]>(`select credit_id from events where version = 1 and credit_id > ? order by credit_id limit ?`, [
        after,
        opts.batchSize,
      ])
    ).map((r) => r.credit_id);
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
  const rows = await em.execute<EventDbRow[]>(`select ${EVENT_COLUMNS} from events where credit_id in (?) order by credit_id, version`, [ids]);
  const streams = new Map<string, StoredEvent[]>();
  for (const e of rows.map(fromRow)) {
    const list = streams.get(e.creditId);
    if (list) list.push(e);
    else streams.set(e.creditId, [e]);
  }
  const { findCredits, projectionDiff, projectionOf } = lazy;
  const projections = new Map((await findCredits(em, ids)).map((r) => [r.id, r]));
  return ids.filter((id) => {
    const state = replay(streams.get(id) ?? []);
    const row = projections.get(id);
    return state.status === 'absent' || !row || projectionDiff(projectionOf(state), row).length > 0;
  });
}

type RebuildOutcome = 'rebuilt' | 'unchanged' | { failed: string };

/** The credit's row, rewritten from its events under the row lock every writer of the credit takes. */
async function rebuildOne(em: EntityManager, creditId: string, lockMs: number): Promise<RebuildOutcome> {
  const { lockCredit, projectionDiff, projectionOf, saveProjection } = lazy;
  return em.transactional(async (tx) => {
    await tx.execute(`set local lock_timeout = ${Math.trunc(lockMs)}`);
    const locked: CreditRow | null = await lockCredit(tx, creditId);
    const events = await readStream(tx, creditId);
    const state = replay(events);
    if (state.status === 'absent') return { failed: 'its events do not bring a credit into existence (see `verify`)' };
    const next = projectionOf(state);
    if (locked && projectionDiff(next, locked).length === 0) return 'unchanged';
    await saveProjection(tx, next);
    return 'rebuilt';
  });
}

/** Deletes credits rows that no event explains, each under its row lock. */
async function removeOrphans(em: EntityManager, lockMs: number, counts: RebuildCounts, fail: (creditId: string, reason: string) => void): Promise<void> {
  let after = '';
  for (;;) {
    const orphans = await em.execute<{ id: string }[]>(
      `select c.id from credits c where c.id > ? and not exists (select 1 from events e where e.credit_id = c.id) order by c.id limit 500`,
      [after],
    );
    for (const { id } of orphans) {
      try {
        const deleted = await em.fork().transactional(async (tx) => {
          await tx.execute(`set local lock_timeout = ${Math.trunc(lockMs)}`);
          if (!(await lazy.lockCredit(tx, id))) return 0;
          // Checked again under the lock: a create commits its row and its event together.
          const res = await tx.execute<{ id: string }[]>(
            `delete from credits c where c.id = ? and not exists (select 1 from events e where e.credit_id = c.id) returning c.id`,
            [id],
          );
          return res.length;
        });
        counts.removed += deleted;
      } catch (err) {
        fail(id, errorMessage(err));
      }
    }
    const last = orphans.at(-1);
    if (!last || orphans.length < 500) return;
    after = last.id;
  }
}
