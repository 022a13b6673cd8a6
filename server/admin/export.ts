import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import type { Command } from 'commander';
import { canonicalJson } from '../credits/event-hash.js';
import { feedExtent, readFeed } from '../credits/event-store.js';
import type { StoredEvent } from '../credits/events.js';
import { databaseUrl, intOption } from './config.js';
import { csvLine } from './csv.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import { formatDuration, Output } from './output.js';
import { createProgress } from './progress.js';

type ExportOptions = { json?: boolean; format: 'csv' | 'jsonl'; from?: string; out?: string; batchSize: number; quiet?: boolean };

const EXPORT_CSV_COLUMNS = ['position', 'creditId', 'version', 'type', 'occurredAt', 'actor', 'prevHash', 'hash', 'data'] as const;

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('stream the event log for auditors, in position order, as CSV or JSON Lines (PostgreSQL: DATABASE_URL)')
    .option('--format <format>', 'csv or jsonl', (value: string) => {
      if (value !== 'csv' && value !== 'jsonl') throw new CliError(`--format must be csv or jsonl, got ${JSON.stringify(value)}`);
      return value;
    }, 'jsonl')
    .option('--from <position>', 'first position to export (inclusive); default: the start of the log')
    .option('--out <file>', 'write to this file (replaced only once complete) instead of stdout')
    .option('--batch-size <n>', 'events read per query (100-50000)', intOption('--batch-size', 100, 50_000), 5000)
    .option('--json', 'print the closing summary as JSON (on stderr when the events go to stdout)')
    .option('--quiet', 'no progress output')
    .addHelpText(
      'after',
      `
Every event as the API shows it: position, creditId, version, type, data,
actor, occurredAt (ISO-8601), prevHash, hash. JSON Lines has one event object
per line; CSV has the header ${EXPORT_CSV_COLUMNS.join(',')}, with data as canonical
JSON (keys sorted), the exact form the hash covers. Anyone can re-check the
chain: hash = SHA-256 of canonical JSON ["ev-v1", creditId, version, type,
data, actor, occurredAt, prevHash], and prevHash = the hash of the same
credit's previous version (null, an empty field in CSV, for version 1).

The export covers the log up to its last position when the export started,
in constant memory. The summary gives the last position; continue later with
--from <last position + 1>.

Exit code: 0 exported, 2 usage/connection error.`,
    )
    .action(async (opts: ExportOptions) => {
      process.exitCode = await runExport(opts, new Output(Boolean(opts.json), opts.out ? process.stdout : process.stderr));
    });
}

async function write(stream: NodeJS.WritableStream, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}

async function runExport(opts: ExportOptions, out: Output): Promise<ExitCode> {
  if (opts.from !== undefined && !/^\d{1,19}$/.test(opts.from)) throw new CliError(`--from must be a position (a non-negative integer), got ${JSON.stringify(opts.from)}`);
  const startedAt = Date.now();
  const url = databaseUrl();
  const { eventView, withDatabase } = await import('./lazy.js');
  const jsonlEvent = (e: StoredEvent): string => `${JSON.stringify(eventView(e))}\n`;
  const csvEvent = (e: StoredEvent): string => {
    const v = eventView(e);
    return csvLine([v.position, v.creditId, v.version, v.type, v.occurredAt, v.actor, v.prevHash, v.hash, canonicalJson(v.data)]);
  };
  const after = opts.from === undefined ? '0' : (BigInt(opts.from) - 1n).toString();
  const partial = opts.out ? `${opts.out}.partial` : null;
  const target: NodeJS.WritableStream = partial ? createWriteStream(partial) : process.stdout;
  let closedByReader = false;
  const onPipeError = (err: NodeJS.ErrnoException) => {
    // The reader went away (e.g. `| head`): stop quietly.
    if (err.code === 'EPIPE') closedByReader = true;
  };
  if (!partial) process.stdout.on('error', onPipeError);

  let count = 0;
  let first: string | null = null;
  let last: string | null = null;
  let upTo = '0';
  try {
    await withDatabase(url, async (em) => {
      // Positions become visible in order, so everything up to today's maximum is already there.
      const extent = await feedExtent(em, after);
      upTo = extent.end;
      const progress = createProgress({ label: 'export', total: extent.count, unit: 'events', quiet: Boolean(opts.quiet) });
      try {
        if (opts.format === 'csv') await write(target, csvLine([...EXPORT_CSV_COLUMNS]));
        let cursor = after;
        while (!closedByReader) {
          const batch = (await readFeed(em, cursor, opts.batchSize)).filter((e) => BigInt(e.position) <= BigInt(upTo));
          if (batch.length === 0) break;
          await write(target, batch.map(opts.format === 'csv' ? csvEvent : jsonlEvent).join(''));
          count += batch.length;
          first ??= batch[0]?.position ?? null;
          last = batch.at(-1)?.position ?? last;
          cursor = last ?? cursor;
          progress.update(count, count);
          if (batch.length < opts.batchSize) break;
        }
      } finally {
        progress.stop();
      }
    });
    if (partial && opts.out) {
      target.end();
      await once(target, 'finish');
      await rename(partial, opts.out);
    }
  } catch (err) {
    // The reader went away (e.g. `| head`): what it wanted has been written.
    if (!partial && (closedByReader || (err as NodeJS.ErrnoException).code === 'EPIPE')) return EXIT.ok;
    if (partial) {
      target.end();
      await rm(partial, { force: true });
    }
    throw err;
  } finally {
    if (!partial) process.stdout.off('error', onPipeError);
  }
  const durationMs = Date.now() - startedAt;
  out.result(
    { ok: true, format: opts.format, events: count, firstPosition: first, lastPosition: last, logEndPosition: upTo, out: opts.out ?? null, durationMs },
    () => [
      `export: ${count} events (positions ${first ?? '-'}…${last ?? '-'}) as ${opts.format} to ${opts.out ?? 'stdout'} in ${formatDuration(durationMs)}` +
        (last ? `; continue with --from ${(BigInt(last) + 1n).toString()}` : ''),
    ],
  );
  return EXIT.ok;
}
