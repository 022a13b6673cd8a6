import { createReadStream } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { ledgerError, type LedgerClient, type LedgerErrorKind, type LedgerOutputs } from '../../client/index.js';
import { adminClient, apiFailure } from './api.js';
import { apiConfig, intOption, type ApiConfig, type GlobalOptions } from './config.js';
import { readCsv } from './csv.js';
import { CliError, EXIT, errorMessage, type ExitCode } from './errors.js';
import { formatDuration, Output } from './output.js';
import { createProgress } from './progress.js';

export const CSV_COLUMNS = ['projectName', 'registry', 'vintage', 'quantity', 'serialNumber'] as const;
/** The API's limit for one createMany call. */
const MAX_BATCH = 1000;
/** Per-row errors listed in the --json summary; all of them are printed to stderr. */
const MAX_LISTED_ERRORS = 1000;
const MAX_ATTEMPTS = 5;

type ImportOptions = { json?: boolean; batchSize: number; concurrency: number; restart?: boolean; quiet?: boolean };

/** One data row (CSV record or JSON array item). */
type InputRow = {
  /** 1-based index among data rows: what the checkpoint counts. */
  ordinal: number;
  /** What a person looks up: the CSV line where the record starts (1 = header), or the 1-based JSON item number. */
  row: number;
  item?: unknown;
  /** A problem found before sending (malformed CSV, wrong number of fields). */
  error?: string;
  /** Progress measure when this row is done: bytes read (CSV) or items (JSON). */
  done: number;
};

type Source = { format: 'csv' | 'json'; total: number; rows: AsyncIterable<InputRow> | Iterable<InputRow> };

export type RowError = { row: number; outcome: 'invalid' | 'conflict'; message: string; existingId?: string };
export type Counts = { created: number; existing: number; conflicts: number; invalid: number };

type Checkpoint = {
  version: 1;
  file: string;
  size: number;
  mtimeMs: number;
  /** Every row up to this data-row ordinal has been answered by the API. */
  lastOrdinal: number;
  /** …which is this row number (CSV line / JSON item). */
  lastRow: number;
  /** Totals over every run that contributed to this checkpoint. */
  counts: Counts;
  updatedAt: string;
};

const zeroCounts = (): Counts => ({ created: 0, existing: 0, conflicts: 0, invalid: 0 });
const addCounts = (a: Counts, b: Counts): Counts => ({
  created: a.created + b.created,
  existing: a.existing + b.existing,
  conflicts: a.conflicts + b.conflicts,
  invalid: a.invalid + b.invalid,
});

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('bulk-create credits from a CSV or JSON file through credits.createMany (idempotent, resumable)')
    .argument('<file>', 'a .csv file with header projectName,registry,vintage,quantity,serialNumber, or a .json array of objects')
    .option('--json', 'print the summary as JSON')
    .option('--batch-size <n>', `items per createMany call (1-${MAX_BATCH})`, intOption('--batch-size', 1, MAX_BATCH), MAX_BATCH)
    .option('--concurrency <n>', 'batches in flight at once (1-16)', intOption('--concurrency', 1, 16), 4)
    .option('--restart', 'ignore the checkpoint file and start from the first row')
    .option('--quiet', 'no progress output (per-row errors are still printed)')
    .addHelpText(
      'after',
      `
Rows are numbered as a person finds them: CSV line numbers (1 = the header, so
the first data row is 2; a quoted field spanning lines counts its start line),
JSON item numbers (1 = the first object). CSV is streamed; a JSON file is
read whole, so prefer CSV for very large imports.

Creating a credit is idempotent, so running the same import again creates
nothing new and reports every row as already existing. While it runs, the
import keeps <file>.import-state.json with the last row the API answered for
(every row before it included); after an interruption (Ctrl-C, lost
connection) the same command resumes after that row. --restart ignores it.
The file is removed when an import completes.

Exit code: 0 all rows created or already there, 1 some rows invalid or in
conflict (the others are imported), 2 usage/connection error, 130 interrupted.`,
    )
    .action(async (file: string, opts: ImportOptions, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      process.exitCode = await runImport(file, opts, apiConfig(globals), new Output(Boolean(opts.json)));
    });
}

export async function runImport(file: string, opts: ImportOptions, cfg: ApiConfig, out: Output): Promise<ExitCode> {
  const startedAt = Date.now();
  const absolute = path.resolve(file);
  const info = await stat(absolute).catch((err: unknown) => {
    throw new CliError(`cannot read ${file}: ${errorMessage(err)}`);
  });
  if (!info.isFile()) throw new CliError(`${file} is not a file`);
  const source = await openSource(absolute, info.size);
  const checkpointFile = `${absolute}.import-state.json`;
  const previous = opts.restart ? null : await readCheckpoint(checkpointFile, absolute, info, out);
  if (previous) out.note(`resuming ${file} after row ${previous.lastRow} (${previous.lastOrdinal} rows done before; --restart to start over)`);

  const client = adminClient(cfg);
  const progress = createProgress({ label: 'import', total: source.total, unit: 'rows', quiet: Boolean(opts.quiet) });
  const counts = zeroCounts();
  const listed: RowError[] = [];
  let errorsTotal = 0;
  let rowsSent = 0;
  let skipped = 0;
  let acknowledged = previous ? { ordinal: previous.lastOrdinal, row: previous.lastRow, done: 0 } : { ordinal: 0, row: 0, done: 0 };

  const report = (e: RowError) => {
    errorsTotal++;
    if (listed.length < MAX_LISTED_ERRORS) listed.push(e);
    const where = source.format === 'csv' ? 'line' : 'item';
    progress.log(`${where} ${e.row}: ${e.outcome}: ${e.message}`);
  };

  // Checkpoint writes are chained so two never overlap.
  let saving: Promise<void> = Promise.resolve();
  const saveCheckpoint = () => {
    const snapshot: Checkpoint = {
      version: 1,
      file: absolute,
      size: info.size,
      mtimeMs: info.mtimeMs,
      lastOrdinal: acknowledged.ordinal,
      lastRow: acknowledged.row,
      counts: addCounts(previous?.counts ?? zeroCounts(), counts),
      updatedAt: new Date().toISOString(),
    };
    saving = saving.then(() => writeCheckpoint(checkpointFile, snapshot)).catch((err: unknown) => out.warn(`could not write ${checkpointFile}: ${errorMessage(err)}`));
  };

  // Batches answer out of order; they are applied in order so the checkpoint
  // only ever covers rows that all have their answer.
  const window: Batch[] = [];
  const inFlight = new Set<Promise<void>>();
  const run = { fatal: null as CliError | null, interrupted: false };
  const applyFinished = () => {
    while (window[0]?.answer) {
      const batch = window.shift() as Batch;
      const answer = batch.answer as BatchAnswer;
      if (answer.kind === 'failed') {
        run.fatal ??= answer.error;
        // Later batches may be done, but the checkpoint must not skip this one.
        window.length = 0;
        return;
      }
      applyBatch(batch, answer.outcomes, counts, report);
      rowsSent += batch.rows.length;
      const last = batch.rows.at(-1);
      if (last) acknowledged = { ordinal: last.ordinal, row: last.row, done: last.done };
      progress.update(acknowledged.done, rowsSent);
      saveCheckpoint();
    }
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (run.interrupted) process.exit(EXIT.interrupted);
    run.interrupted = true;
    progress.log(`${signal}: finishing the ${inFlight.size} batch(es) in flight, then stopping (again to quit at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let current = new Batch();
  const dispatch = async (batch: Batch) => {
    window.push(batch);
    const settled = batch.start(client, cfg, opts.batchSize).finally(() => {
      inFlight.delete(settled);
      applyFinished();
    });
    inFlight.add(settled);
    // Wait for a slot. Answered batches behind an unanswered one keep their slot, which bounds memory.
    while (window.length >= opts.concurrency && !run.fatal) await Promise.race(window.filter((b) => !b.answer).map((b) => b.settled));
  };

  try {
    for await (const row of source.rows) {
      if (run.interrupted || run.fatal) break;
      if (previous && row.ordinal <= previous.lastOrdinal) {
        skipped++;
        acknowledged.done = row.done;
        continue;
      }
      current.rows.push(row);
      if (current.rows.length >= opts.batchSize) {
        await dispatch(current);
        current = new Batch();
      }
    }
    if (current.rows.length > 0 && !run.interrupted && !run.fatal) await dispatch(current);
  } finally {
    // Whatever stopped the loop, let every request in flight finish and be counted.
    await Promise.all([...inFlight]);
    applyFinished();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress.stop();
    await saving;
  }

  const { fatal, interrupted } = run;
  const complete = !interrupted && !fatal;
  if (complete) await rm(checkpointFile, { force: true });
  const durationMs = Date.now() - startedAt;
  const summary = {
    ok: complete && counts.conflicts + counts.invalid === 0,
    complete,
    file,
    format: source.format,
    rows: rowsSent,
    skipped,
    ...counts,
    durationMs,
    rowsPerSecond: durationMs > 0 ? Math.round((rowsSent / durationMs) * 1000) : rowsSent,
    errors: listed,
    errorsTotal,
    ...(previous ? { resumedAfterRow: previous.lastRow, earlierRuns: previous.counts } : {}),
    ...(complete ? {} : { checkpoint: checkpointFile, resumeAfterRow: acknowledged.row, stoppedBy: fatal ? fatal.message : 'signal' }),
  };

  out.result(summary, () => {
    const lines = [
      `${complete ? 'Imported' : 'Stopped importing'} ${file}: ${rowsSent} rows in ${formatDuration(durationMs)} (${summary.rowsPerSecond} rows/s)` +
        (skipped > 0 ? `, ${skipped} rows skipped as done by an earlier run` : ''),
      `  created          ${counts.created}`,
      `  already existed  ${counts.existing}`,
      `  conflicts        ${counts.conflicts}`,
      `  invalid          ${counts.invalid}`,
    ];
    if (complete && counts.created === 0 && rowsSent > 0 && counts.existing > 0) lines.push(`Nothing new: the ledger already had every valid row.`);
    if (complete && rowsSent === 0 && skipped === 0) lines.push('The file holds no data rows.');
    if (errorsTotal > 0) lines.push(`${errorsTotal} row(s) not imported; each is listed above with its ${source.format === 'csv' ? 'line' : 'item'} number.`);
    if (!complete) {
      lines.push(
        acknowledged.ordinal > 0
          ? `Re-run the same command to resume after row ${acknowledged.row} (progress kept in ${checkpointFile}).`
          : 'No row was acknowledged; re-run the same command to start again.',
      );
    }
    return lines;
  });

  if (fatal) {
    out.note(`error: ${fatal.message}`);
    return fatal.exitCode;
  }
  if (interrupted) return EXIT.interrupted;
  return counts.conflicts + counts.invalid > 0 ? EXIT.failures : EXIT.ok;
}

type CreateManyResult = LedgerOutputs['credits']['createMany']['results'][number];
type Outcome = CreateManyResult | { outcome: 'local'; message: string };
type BatchAnswer = { kind: 'ok'; outcomes: Outcome[] } | { kind: 'failed'; error: CliError };

class Batch {
  readonly rows: InputRow[] = [];
  answer: BatchAnswer | null = null;
  settled: Promise<void> = Promise.resolve();

  start(client: LedgerClient, cfg: ApiConfig, maxItems: number): Promise<void> {
    const toSend = this.rows.filter((r) => r.error === undefined);
    this.settled = sendAll(client, cfg, toSend.map((r) => r.item), maxItems)
      .then((results) => {
        const byRow = new Map(toSend.map((r, i) => [r, results[i]]));
        this.answer = {
          kind: 'ok',
          outcomes: this.rows.map((r): Outcome => {
            if (r.error !== undefined) return { outcome: 'local', message: r.error };
            const result = byRow.get(r);
            if (!result) throw new CliError(`the API gave no answer for row ${r.row}`, EXIT.usage);
            return result;
          }),
        };
      })
      .catch((err: unknown) => {
        this.answer = { kind: 'failed', error: err instanceof CliError ? err : apiFailure(err, cfg) };
      });
    return this.settled;
  }
}

function applyBatch(batch: Batch, outcomes: Outcome[], counts: Counts, report: (e: RowError) => void): void {
  batch.rows.forEach((row, i) => {
    const o = outcomes[i];
    if (!o) return;
    switch (o.outcome) {
      case 'created':
        counts.created++;
        break;
      case 'existing':
        counts.existing++;
        break;
      case 'conflict':
        counts.conflicts++;
        report({ row: row.row, outcome: 'conflict', message: o.message, existingId: o.existingId });
        break;
      case 'invalid':
        counts.invalid++;
        report({ row: row.row, outcome: 'invalid', message: o.issues.map(issueText).join('; ') });
        break;
      case 'local':
        counts.invalid++;
        report({ row: row.row, outcome: 'invalid', message: o.message });
        break;
    }
  });
}

/** The API's messages start with the field name already; add the path only where they do not. */
const issueText = (issue: { path: string; message: string }): string => {
  const field = issue.path.split('.').at(-1) ?? '';
  return !issue.path || issue.message.startsWith(field) ? issue.message : `${issue.path}: ${issue.message}`;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Transient failures are retried: creates are idempotent, so a repeat is harmless. */
const RETRYABLE: ReadonlySet<LedgerErrorKind> = new Set(['NETWORK', 'BUSY', 'INTERNAL']);

async function sendAll(client: LedgerClient, cfg: ApiConfig, items: unknown[], maxItems: number): Promise<CreateManyResult[]> {
  if (items.length === 0) return [];
  if (items.length > maxItems) {
    const half = Math.ceil(items.length / 2);
    return [...(await sendAll(client, cfg, items.slice(0, half), maxItems)), ...(await sendAll(client, cfg, items.slice(half), maxItems))];
  }
  for (let attempt = 1; ; attempt++) {
    try {
      const { results } = await client.credits.createMany.mutate({ items });
      if (results.length !== items.length) throw new CliError(`the API answered ${results.length} of ${items.length} items`, EXIT.usage);
      return [...results].sort((a, b) => a.index - b.index);
    } catch (err) {
      const { kind } = ledgerError(err);
      // Rows with long fields can make 1000 of them exceed the API's body limit: halve and go on.
      if (kind === 'PAYLOAD_TOO_LARGE' && items.length > 1) return sendAll(client, cfg, items, Math.ceil(items.length / 2));
      if (!RETRYABLE.has(kind) || attempt >= MAX_ATTEMPTS) throw apiFailure(err, cfg);
      await sleep(200 * 2 ** attempt);
    }
  }
}

async function openSource(file: string, size: number): Promise<Source> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return { format: 'csv', total: size, rows: csvRows(file) };
  if (ext === '.json') return jsonSource(file);
  throw new CliError(`${file}: expected a .csv or .json file`);
}

async function* csvRows(file: string): AsyncGenerator<InputRow> {
  let columns: string[] | null = null;
  let ordinal = 0;
  for await (const record of readCsv(createReadStream(file, { highWaterMark: 256 * 1024 }))) {
    if (!columns) {
      if (record.error !== undefined) throw new CliError(`${file}: the header (line ${record.line}) is malformed: ${record.error}`);
      columns = checkHeader(file, record.fields);
      continue;
    }
    ordinal++;
    const base = { ordinal, row: record.line, done: record.bytesRead };
    if (record.error !== undefined) {
      yield { ...base, error: `malformed CSV: ${record.error}` };
    } else if (record.fields.length !== columns.length) {
      yield { ...base, error: `expected ${columns.length} fields (${columns.join(',')}), got ${record.fields.length}` };
    } else {
      const item: Record<string, unknown> = {};
      columns.forEach((name, i) => {
        const value = record.fields[i] ?? '';
        if (name === 'vintage') {
          const v = vintageOf(value);
          if (v !== undefined) item[name] = v;
        } else {
          item[name] = value;
        }
      });
      yield { ...base, item };
    }
  }
  if (!columns) throw new CliError(`${file} is empty: expected the header ${CSV_COLUMNS.join(',')}`);
}

function checkHeader(file: string, fields: string[]): string[] {
  const names = fields.map((f) => f.trim());
  const unknown = names.filter((n) => !(CSV_COLUMNS as readonly string[]).includes(n));
  const missing = CSV_COLUMNS.filter((c) => !names.includes(c));
  const repeated = names.filter((n, i) => names.indexOf(n) !== i);
  if (unknown.length > 0 || missing.length > 0 || repeated.length > 0) {
    const problems = [
      ...(missing.length ? [`missing ${missing.join(', ')}`] : []),
      ...(unknown.length ? [`unknown ${unknown.map((u) => JSON.stringify(u)).join(', ')}`] : []),
      ...(repeated.length ? [`repeated ${repeated.join(', ')}`] : []),
    ];
    throw new CliError(`${file}: bad CSV header (${problems.join('; ')}); expected the columns ${CSV_COLUMNS.join(',')} in any order`);
  }
  return names;
}

/** A whole number becomes a number; anything else goes as written, for the API to explain. */
function vintageOf(text: string): unknown {
  const t = text.trim();
  if (t === '') return undefined;
  return /^[+-]?\d{1,9}$/.test(t) ? Number(t) : text;
}

async function jsonSource(file: string): Promise<Source> {
  let items: unknown;
  try {
    items = JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (err) {
    throw new CliError(`${file} is not valid JSON: ${errorMessage(err)}`);
  }
  if (!Array.isArray(items)) throw new CliError(`${file}: expected a JSON array of credit objects`);
  const list: unknown[] = items;
  function* rows(): Generator<InputRow> {
    for (let i = 0; i < list.length; i++) {
      yield { ordinal: i + 1, row: i + 1, item: list[i], done: i + 1 };
      // The array is in memory anyway; let go of what has been sent.
      list[i] = undefined;
    }
  }
  return { format: 'json', total: list.length, rows: rows() };
}

async function readCheckpoint(
  checkpointFile: string,
  file: string,
  info: { size: number; mtimeMs: number },
  out: Output,
): Promise<Checkpoint | null> {
  let text: string;
  try {
    text = await readFile(checkpointFile, 'utf8');
  } catch {
    return null;
  }
  try {
    const cp = JSON.parse(text) as Partial<Checkpoint>;
    if (cp.version !== 1 || typeof cp.lastOrdinal !== 'number' || typeof cp.lastRow !== 'number' || !cp.counts) throw new Error('unknown format');
    if (cp.file !== file || cp.size !== info.size || cp.mtimeMs !== info.mtimeMs) {
      out.warn(`${checkpointFile} belongs to another version of the file; starting from the first row`);
      return null;
    }
    return cp as Checkpoint;
  } catch (err) {
    out.warn(`ignoring ${checkpointFile}: ${errorMessage(err)}; starting from the first row`);
    return null;
  }
}

async function writeCheckpoint(file: string, cp: Checkpoint): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(cp, null, 2)}\n`);
  await rename(tmp, file);
}
