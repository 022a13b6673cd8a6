import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { adminClient, apiFailure } from '../api.js';
import { apiConfig, intOption, type ApiConfig, type GlobalOptions } from '../config.js';
import { CliError, EXIT, errorMessage, type ExitCode } from '../errors.js';
import { Output } from '../output.js';
import { createProgress } from '../progress.js';
import { CheckpointWriter, checkpointFileOf, readCheckpoint } from './checkpoint.js';
import { sendAll } from './send.js';
import { openSource, type InputRow } from './sources.js';
import { addCounts, isComplete, RowErrors, summarize, tally, zeroCounts, type ImportRun } from './summary.js';
import { BatchWindow } from './window.js';

/** The API's limit for one createMany call. */
const MAX_BATCH = 1000;

type ImportOptions = { json?: boolean; batchSize: number; concurrency: number; restart?: boolean; quiet?: boolean };

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('bulk-create credits from a CSV or JSON file through credits.createMany (idempotent, resumable)')
    .argument('<file>', 'a .csv file with header projectName,registry,vintage,quantity,serialNumber[,unitFirst,unitLast], or a .json array of objects')
    .option('--json', 'print the summary as JSON')
    .option('--batch-size <n>', `items per createMany call (1-${MAX_BATCH})`, intOption('--batch-size', 1, MAX_BATCH), MAX_BATCH)
    .option('--concurrency <n>', 'batches in flight at once (1-16)', intOption('--concurrency', 1, 16), 4)
    .option('--restart', 'ignore the checkpoint file and start from the first row')
    .option('--quiet', 'no progress output (per-row errors are still printed)')
    .addHelpText(
      'after',
      `
A block's units go in the optional columns unitFirst and unitLast (both or
neither in the header; in a row, both or both empty), sent as unitRange
{first, last}; a JSON item carries unitRange itself. Without them, the units
of a Verra or Gold Standard serial are read from the serial.

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

async function runImport(file: string, opts: ImportOptions, cfg: ApiConfig, out: Output): Promise<ExitCode> {
  const startedAt = Date.now();
  const absolute = path.resolve(file);
  const info = await stat(absolute).catch((err: unknown) => {
    throw new CliError(`cannot read ${file}: ${errorMessage(err)}`);
  });
  if (!info.isFile()) throw new CliError(`${file} is not a file`);
  const source = await openSource(absolute, info.size);
  const checkpointFile = checkpointFileOf(absolute);
  const previous = opts.restart ? null : await readCheckpoint(checkpointFile, absolute, info, out);
  if (previous) out.note(`resuming ${file} after row ${previous.lastRow} (${previous.lastOrdinal} rows done before; --restart to start over)`);

  const client = adminClient(cfg);
  const progress = createProgress({ label: 'import', total: source.total, unit: 'rows', quiet: Boolean(opts.quiet) });
  const counts = zeroCounts();
  const errors = new RowErrors(source.format, (line) => progress.log(line));
  const checkpoints = new CheckpointWriter(checkpointFile, out);
  let rowsSent = 0;
  let skipped = 0;
  let acknowledged = previous ? { ordinal: previous.lastOrdinal, row: previous.lastRow, done: 0 } : { ordinal: 0, row: 0, done: 0 };

  const window = new BatchWindow({
    concurrency: opts.concurrency,
    send: (items) => sendAll(client, cfg, items, opts.batchSize),
    failure: (err) => apiFailure(err, cfg),
    onAnswered: (rows, outcomes) => {
      tally(rows, outcomes, counts, errors.report);
      rowsSent += rows.length;
      const last = rows.at(-1);
      if (last) acknowledged = { ordinal: last.ordinal, row: last.row, done: last.done };
      progress.update(acknowledged.done, rowsSent);
      checkpoints.save({
        version: 1,
        file: absolute,
        size: info.size,
        mtimeMs: info.mtimeMs,
        lastOrdinal: acknowledged.ordinal,
        lastRow: acknowledged.row,
        counts: addCounts(previous?.counts ?? zeroCounts(), counts),
        updatedAt: new Date().toISOString(),
      });
    },
  });

  const signals = { interrupted: false };
  const onSignal = (signal: NodeJS.Signals) => {
    if (signals.interrupted) process.exit(EXIT.interrupted);
    signals.interrupted = true;
    progress.log(`${signal}: finishing the ${window.inFlightCount} batch(es) in flight, then stopping (again to quit at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let current: InputRow[] = [];
  try {
    for await (const row of source.rows) {
      if (signals.interrupted || window.fatal) break;
      if (previous && row.ordinal <= previous.lastOrdinal) {
        skipped++;
        acknowledged.done = row.done;
        continue;
      }
      current.push(row);
      if (current.length >= opts.batchSize) {
        await window.dispatch(current);
        current = [];
      }
    }
    if (current.length > 0 && !signals.interrupted && !window.fatal) await window.dispatch(current);
  } finally {
    // Whatever stopped the loop, let every request in flight finish and be counted.
    await window.drain();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress.stop();
    await checkpoints.flushed();
  }

  const ended = { fatal: window.fatal, interrupted: signals.interrupted };
  if (isComplete(ended)) await rm(checkpointFile, { force: true });
  const run: ImportRun = {
    file,
    format: source.format,
    ...ended,
    rowsSent,
    skipped,
    counts,
    errors,
    durationMs: Date.now() - startedAt,
    previous,
    checkpointFile,
    acknowledged,
  };
  const summary = summarize(run);
  out.result(summary.value, summary.lines);

  if (run.fatal) {
    out.note(`error: ${run.fatal.message}`);
    return run.fatal.exitCode;
  }
  if (run.interrupted) return EXIT.interrupted;
  return counts.conflicts + counts.invalid > 0 ? EXIT.failures : EXIT.ok;
}
