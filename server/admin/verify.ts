import type { EntityManager } from '@mikro-orm/postgresql';
import type { Command } from 'commander';
import type * as Lazy from './lazy.js';
import type { CreditRecord } from '../db/entities.js';
import type { CreditStreamCheck, Inconsistency } from '../ledger-check/verifier.js';
import { databaseUrl, intOption } from './config.js';
import { EXIT, type ExitCode } from './errors.js';
import { formatDuration, Output } from './output.js';
import { createProgress } from './progress.js';

type VerifyOptions = { json?: boolean; batchSize: number; keepGoing?: boolean; quiet?: boolean };


/** Inconsistencies listed when --keep-going; the count goes on beyond it. */
const MAX_LISTED = 1000;

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check the whole event log and the credits table against each other (reads PostgreSQL: DATABASE_URL)')
    .option('--json', 'print the result as JSON')
    .option('--batch-size <n>', 'events read per query (100-50000)', intOption('--batch-size', 100, 50_000), 5000)
    .option('--keep-going', `report every inconsistency (the first ${MAX_LISTED} listed) instead of stopping at the first`)
    .option('--quiet', 'no progress output')
    .addHelpText(
      'after',
      `
Checks, in one consistent snapshot of the database, reading the log in
(credit, version) order so memory stays constant however large it is:
  - every event's hash is the hash of its contents and of its predecessor's hash,
  - every event's prevHash is the previous event's hash (null for version 1),
  - every credit's versions run 1, 2, 3… without gaps, positions increasing,
    and only version 1 is 'created' (an issued block) or 'split_from' (a part),
  - every credit's ID is what its first event gives (its fields, or its
    parent and request),
  - every split carves less than the credit holds and, for a block, its lowest
    units; every part is what its split carved, and every part has its split,
  - issued = active + retired + cancelled (nothing made or lost by splitting),
  - every credit's row in the credits table equals the replay of its events,
    every credit with events has a row, and no row exists without events.

Exit code: 0 consistent, 1 an inconsistency was found (it names the event
position and the credit), 2 usage/connection error.`,
    )
    .action(async (opts: VerifyOptions) => {
      process.exitCode = await runVerify(opts, new Output(Boolean(opts.json)));
    });
}

async function runVerify(opts: VerifyOptions, out: Output): Promise<ExitCode> {
  const startedAt = Date.now();
  const url = databaseUrl();
  const lazy = await import('./lazy.js');
  const result = await lazy.withDatabase(url, (em) =>
    // One snapshot: a credit changed while we read cannot look inconsistent.
    em.transactional((tx) => scan(tx, opts, lazy), { isolationLevel: lazy.IsolationLevel.REPEATABLE_READ, readOnly: true }),
  );
  const durationMs = Date.now() - startedAt;
  const ok = result.inconsistencies.length === 0;
  const first = result.inconsistencies[0];
  out.result(
    {
      ok,
      eventsChecked: result.events,
      creditsChecked: result.credits,
      projectionRowsChecked: result.rows,
      inconsistencyCount: result.total,
      inconsistencies: result.inconsistencies,
      stoppedAtFirst: !ok && !opts.keepGoing,
      durationMs,
    },
    () => {
      if (ok) {
        return [
          `verify: OK — ${result.events} events in ${result.credits} credit streams: hashes, links and versions intact;`,
          `${result.rows} projection rows equal the replay of their events; no orphan rows (${formatDuration(durationMs)})`,
        ];
      }
      const lines = result.inconsistencies.map((i) => `INCONSISTENT ${i.kind}: ${i.message}`);
      if (result.total > result.inconsistencies.length) lines.push(`… and ${result.total - result.inconsistencies.length} more`);
      lines.push(
        opts.keepGoing
          ? `verify: FAILED — ${result.total} inconsistencies in ${result.events} events / ${result.credits} credits (${formatDuration(durationMs)})`
          : `verify: FAILED at position ${first?.position ?? '-'} (credit ${first?.creditId ?? '-'}) after checking ${result.events} events in ${result.credits} credits`,
      );
      return lines;
    },
  );
  return ok ? EXIT.ok : EXIT.failures;
}

type ScanResult = { events: number; credits: number; rows: number; inconsistencies: Inconsistency[]; total: number };

async function scan(em: EntityManager, opts: VerifyOptions, lazy: typeof Lazy): Promise<ScanResult> {
  const { CreditStreamCheck, countEvents, findCredits, orphanCreditIds, orphanPart, orphanParts, orphanProjection, partMismatch, readByStream, splitIssue, splitsWithParts, supplyIssue, supplyTotals } = lazy;
  const progress = createProgress({ label: 'verify', total: await countEvents(em), unit: 'events', quiet: Boolean(opts.quiet) });
  const res: ScanResult = { events: 0, credits: 0, rows: 0, inconsistencies: [], total: 0 };
  const found = (issue: Inconsistency): boolean => {
    res.total++;
    if (res.inconsistencies.length < MAX_LISTED) res.inconsistencies.push(issue);
    return !opts.keepGoing; // true: stop here
  };

  type Current = { check: CreditStreamCheck; row: CreditRecord | null; broken: boolean };
  const cursor: { current: Current | null } = { current: null };
  const finishCurrent = (): boolean => {
    const current = cursor.current;
    if (!current) return false;
    res.credits++;
    if (current.row) res.rows++;
    if (current.broken) return false;
    const issue = current.check.finish(current.row);
    return issue ? found(issue) : false;
  };

  try {
    let after: { creditId: string; version: number } | null = null;
    for (;;) {
      const events = await readByStream(em, after, opts.batchSize);
      if (events.length === 0) break;
      const ids = [...new Set(events.map((e) => e.creditId))];
      const projections = new Map((await findCredits(em, ids)).map((r) => [r.id, r]));
      for (const e of events) {
        let current = cursor.current;
        if (current?.check.creditId !== e.creditId) {
          if (finishCurrent()) return res;
          current = cursor.current = { check: new CreditStreamCheck(e.creditId), row: projections.get(e.creditId) ?? null, broken: false };
        }
        res.events++;
        if (current.broken) continue;
        const issue = current.check.add(e);
        if (issue) {
          // The rest of this stream would only repeat the same break.
          current.broken = true;
          if (found(issue)) return res;
        }
      }
      progress.update(res.events, res.events);
      const last = events.at(-1);
      if (!last || events.length < opts.batchSize) break;
      after = { creditId: last.creditId, version: last.version };
    }
    if (finishCurrent()) return res;

    // Rows of the credits table that no event explains.
    const limit = opts.keepGoing ? 1000 : 1;
    let afterId = '';
    for (;;) {
      const orphans = await orphanCreditIds(em, afterId, limit);
      for (const id of orphans) if (found(orphanProjection(id))) return res;
      const last = orphans.at(-1);
      if (!last || orphans.length < limit) break;
      afterId = last;
    }

    // Conservation across streams: every split names a part that came from it, with what it carved; every part has its split.
    let afterSplit = '0';
    for (;;) {
      const splits = await splitsWithParts(em, afterSplit, opts.batchSize);
      for (const s of splits) {
        const wrong = partMismatch(s.parentId, s.split, s.part);
        if (wrong && found(splitIssue(s.parentId, s.position, wrong))) return res;
      }
      const last = splits.at(-1);
      if (!last || splits.length < opts.batchSize) break;
      afterSplit = last.position;
    }
    for (const o of await orphanParts(em, opts.keepGoing ? 1000 : 1)) if (found(orphanPart(o))) return res;
    const supply = supplyIssue(await supplyTotals(em, {}));
    if (supply && found(supply)) return res;
    return res;
  } finally {
    progress.stop();
  }
}
