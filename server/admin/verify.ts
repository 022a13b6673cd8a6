import type { EntityManager } from '@mikro-orm/postgresql';
import type { Command } from 'commander';
import type * as Lazy from './lazy.js';
import type { CreditRecord } from '../db/entities.js';
import type { CreditStreamCheck, Inconsistency } from '../ledger-check/verifier.js';
import { databaseUrl, environment, intOption } from './config.js';
import { jwsIn, readInput, readJwks } from './proof-files.js';
import type { LedgerJwks } from '../proofs/jwks.js';
import type { ProofCheck } from './verify-proofs.js';
import { EXIT, type ExitCode } from './errors.js';
import { formatDuration, Output } from './output.js';
import { createProgress } from './progress.js';

type VerifyOptions = { json?: boolean; batchSize: number; keepGoing?: boolean; quiet?: boolean; checkpoint?: string; jwks?: string };


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
    .option('--checkpoint <file>', 'check only the log against this checkpoint (a JWS, or JSON with its jws, as `checkpoint --json`, checkpoints.latest or an export gave it)')
    .option('--jwks <url|file>', "the ledger's public keys to check signatures with (default: LEDGER_SIGNING_KEY's and LEDGER_PREVIOUS_PUBLIC_KEYS)")
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
    every credit with events has a row, and no row exists without events,
  - every checkpoint's signature holds and the log's Merkle tree, recomputed
    from every settled event's contents, still has each checkpoint's root;
    where it does not, the first event that no longer matches is named,
  - every retirement certificate's signature holds, and its retired event is
    still in the log with the hash it certifies.

With --checkpoint <file>, only the log against that checkpoint (signed by a
key in --jwks, or in the settings), naming the first event that no longer
matches it.

Exit code: 0 consistent, 1 an inconsistency was found (it names the event
position and the credit), 2 usage/connection error.`,
    )
    .action(async (opts: VerifyOptions) => {
      process.exitCode = await runVerify(opts, new Output(Boolean(opts.json)));
    });
}

/** The keys signatures are checked with: --jwks, else the settings' (the signing key's public half and the previous keys). */
async function checkingKeys(opts: VerifyOptions): Promise<LedgerJwks> {
  if (opts.jwks) return readJwks(opts.jwks);
  const { publicKeysFromEnv } = await import('../proofs/signing-key.js');
  return publicKeysFromEnv(environment());
}

async function runVerify(opts: VerifyOptions, out: Output): Promise<ExitCode> {
  const startedAt = Date.now();
  const url = databaseUrl();
  const external = opts.checkpoint === undefined ? null : jwsIn(await readInput(opts.checkpoint));
  const jwks = await checkingKeys(opts);
  if (external !== null) return runCheckpointVerify(url, external, jwks, opts, out, startedAt);
  const lazy = await import('./lazy.js');
  const proofs = await import('./verify-proofs.js');
  const result = await lazy.withDatabase(url, (em) =>
    // One snapshot: a credit changed while we read cannot look inconsistent.
    em.transactional(
      async (tx) => {
        const res = await scan(tx, opts, lazy);
        if (res.stopped) return res;
        const progress = createProgress({ label: 'verify proofs', total: res.events, unit: 'events', quiet: Boolean(opts.quiet) });
        try {
          res.proofs = await proofs.checkStoredProofs(tx, jwks, { batchSize: opts.batchSize, found: res.found, onProgress: (n) => progress.update(n, n) });
        } finally {
          progress.stop();
        }
        return res;
      },
      { isolationLevel: lazy.IsolationLevel.REPEATABLE_READ, readOnly: true },
    ),
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
      checkpointsChecked: result.proofs?.checkpointsChecked ?? 0,
      latestCheckpointSize: result.proofs?.latestCheckpointSize ?? null,
      certificatesChecked: result.proofs?.certificatesChecked ?? 0,
      inconsistencies: result.inconsistencies,
      stoppedAtFirst: !ok && !opts.keepGoing,
      durationMs,
    },
    () => {
      if (ok) {
        const p = result.proofs;
        return [
          `verify: OK — ${result.events} events in ${result.credits} credit streams: hashes, links and versions intact;`,
          `${result.rows} projection rows equal the replay of their events; no orphan rows;`,
          `${p?.checkpointsChecked ?? 0} checkpoints${p?.latestCheckpointSize ? ` (up to ${p.latestCheckpointSize} events)` : ''} signed and matching the log; ` +
            `${p?.certificatesChecked ?? 0} retirement certificates signed and matching their events (${formatDuration(durationMs)})`,
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

/** `verify --checkpoint <file>`: the log against one checkpoint saved elsewhere, and nothing else. */
async function runCheckpointVerify(url: string, jws: string, jwks: LedgerJwks, opts: VerifyOptions, out: Output, startedAt: number): Promise<ExitCode> {
  const lazy = await import('./lazy.js');
  const proofs = await import('./verify-proofs.js');
  const inconsistencies: Inconsistency[] = [];
  const found = (issue: Inconsistency) => {
    inconsistencies.push(issue);
    return true;
  };
  const progress = createProgress({ label: 'verify checkpoint', total: 0, unit: 'events', quiet: Boolean(opts.quiet) });
  const checked = await lazy
    .withDatabase(url, (em) =>
      em.transactional((tx) => proofs.checkExternalCheckpoint(tx, jws, jwks, { batchSize: opts.batchSize, found, onProgress: (n) => progress.update(n, n) }), {
        isolationLevel: lazy.IsolationLevel.REPEATABLE_READ,
        readOnly: true,
      }),
    )
    .finally(() => progress.stop());
  const durationMs = Date.now() - startedAt;
  const ok = inconsistencies.length === 0;
  const first = inconsistencies[0];
  out.result(
    { ok, checkpoint: { size: checked.size, root: checked.root, kid: checked.kid }, eventsChecked: checked.leavesChecked, inconsistencyCount: inconsistencies.length, inconsistencies, durationMs },
    () =>
      ok
        ? [`verify --checkpoint: OK — the log's first ${checked.size} events still hash to the checkpoint's root ${checked.root}, signed by key ${checked.kid ?? '-'} (${formatDuration(durationMs)})`]
        : [
            ...inconsistencies.map((i) => `INCONSISTENT ${i.kind}: ${i.message}`),
            `verify --checkpoint: FAILED${first?.position ? ` at position ${first.position} (credit ${first.creditId})` : ''}`,
          ],
  );
  return ok ? EXIT.ok : EXIT.failures;
}

type ScanResult = {
  events: number;
  credits: number;
  rows: number;
  inconsistencies: Inconsistency[];
  total: number;
  /** Whether the scan stopped at a problem (not --keep-going). */
  stopped: boolean;
  /** Records a problem; true: stop here. */
  found: (issue: Inconsistency) => boolean;
  proofs?: ProofCheck;
};

async function scan(em: EntityManager, opts: VerifyOptions, lazy: typeof Lazy): Promise<ScanResult> {
  const { CreditStreamCheck, countEvents, findCredits, orphanCreditIds, orphanPart, orphanParts, orphanProjection, partMismatch, readByStream, splitIssue, splitsWithParts, supplyIssue, supplyTotals } = lazy;
  const progress = createProgress({ label: 'verify', total: await countEvents(em), unit: 'events', quiet: Boolean(opts.quiet) });
  const found = (issue: Inconsistency): boolean => {
    res.total++;
    if (res.inconsistencies.length < MAX_LISTED) res.inconsistencies.push(issue);
    res.stopped = !opts.keepGoing;
    return !opts.keepGoing; // true: stop here
  };
  const res: ScanResult = { events: 0, credits: 0, rows: 0, inconsistencies: [], total: 0, stopped: false, found };

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
