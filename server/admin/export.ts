import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import type { Command } from 'commander';
import { canonicalJson } from '../credits/event-hash.js';
import { countFeed, cursorOf, FEED_START, feedWatermark, readFeed, type FeedCursor } from '../credits/event-store.js';
import type { StoredEvent } from '../credits/events.js';
import type { CheckpointView } from '../proofs/checkpoint.js';
import { decodeFeedCursor, encodeFeedCursor } from '../events/feed-cursor.js';
import { databaseUrl, intOption } from './config.js';
import { csvLine } from './csv.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import { formatDuration, Output } from './output.js';
import { createProgress } from './progress.js';

type ExportOptions = { json?: boolean; format: 'csv' | 'jsonl'; after?: string; out?: string; batchSize: number; quiet?: boolean };

const EXPORT_CSV_COLUMNS = ['position', 'txId', 'creditId', 'version', 'type', 'occurredAt', 'actor', 'prevHash', 'hash', 'data'] as const;

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('stream the event log for auditors, in feed order, as CSV or JSON Lines (PostgreSQL: DATABASE_URL)')
    .option('--format <format>', 'csv or jsonl', (value: string) => {
      if (value !== 'csv' && value !== 'jsonl') throw new CliError(`--format must be csv or jsonl, got ${JSON.stringify(value)}`);
      return value;
    }, 'jsonl')
    .option('--after <cursor>', 'start after this feed cursor ("<transaction>-<position>", as a previous export or events.list gave it); default: the start of the log')
    .option('--out <file>', 'write to this file (replaced only once complete) instead of stdout')
    .option('--batch-size <n>', 'events read per query (100-50000)', intOption('--batch-size', 100, 50_000), 5000)
    .option('--json', 'print the closing summary as JSON (on stderr when the events go to stdout)')
    .option('--quiet', 'no progress output')
    .addHelpText(
      'after',
      `
Every event as the API shows it: position, txId, creditId, version, type,
data, actor, occurredAt (ISO-8601), prevHash, hash, in the feed's order
(transaction ID, then position). JSON Lines has one event object
per line; CSV has the header ${EXPORT_CSV_COLUMNS.join(',')}, with data as canonical
JSON (keys sorted), the exact form the hash covers. Anyone can re-check the
chain: hash = SHA-256 of canonical JSON ["ev-v1", creditId, version, type,
data, actor, occurredAt, prevHash], and prevHash = the hash of the same
credit's previous version (null, an empty field in CSV, for version 1).

The export covers every event of the transactions that had finished when it
started (those still running appear in a later export), in constant memory.
The summary gives the cursor to continue from later with --after <cursor>.

An export from the start of the log (no --after) ends with the latest signed
checkpoint, which covers a prefix of the exported events, so the file can be
checked on its own: in JSON Lines a last line {"checkpoint": {size, root,
cursor, issuedAt, kid, jws}}; in CSV a last row whose type is "checkpoint",
hash the root, occurredAt its issuedAt and data the same JSON object. The
root is the RFC 6962 Merkle root of the first <size> events' hashes, in the
file's order (README, "Proofs").

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
  const start: FeedCursor | null = opts.after === undefined ? FEED_START : decodeFeedCursor(opts.after);
  if (!start) throw new CliError(`--after must be a feed cursor "<transaction>-<position>", got ${JSON.stringify(opts.after)}`);
  const startedAt = Date.now();
  const url = databaseUrl();
  const { eventView, withDatabase } = await import('./lazy.js');
  const { latestCheckpoint } = await import('../proofs/checkpoint-store.js');
  const { checkpointView } = await import('../proofs/checkpoint.js');
  const jsonlEvent = (e: StoredEvent): string => `${JSON.stringify(eventView(e))}\n`;
  const csvEvent = (e: StoredEvent): string => {
    const v = eventView(e);
    return csvLine([v.position, v.txId, v.creditId, v.version, v.type, v.occurredAt, v.actor, v.prevHash, v.hash, canonicalJson(v.data)]);
  };
  const partial = opts.out ? `${opts.out}.partial` : null;
  const target: NodeJS.WritableStream = partial ? createWriteStream(partial) : process.stdout;
  let closedByReader = false;
  const onPipeError = (err: NodeJS.ErrnoException) => {
    // The reader went away (e.g. `| head`): stop quietly.
    if (err.code === 'EPIPE') closedByReader = true;
  };
  if (!partial) process.stdout.on('error', onPipeError);

  let count = 0;
  let cursor = start;
  let watermark = '0';
  let checkpoint: CheckpointView | null = null;
  try {
    await withDatabase(url, async (em) => {
      // Read before the watermark: the checkpoint covers only events below it, all of them in this export.
      if (opts.after === undefined) {
        const latest = await latestCheckpoint(em);
        checkpoint = latest && checkpointView(latest);
      }
      // Everything below the watermark is settled: nothing can appear there any more.
      watermark = await feedWatermark(em);
      const progress = createProgress({ label: 'export', total: await countFeed(em, start, watermark), unit: 'events', quiet: Boolean(opts.quiet) });
      try {
        if (opts.format === 'csv') await write(target, csvLine([...EXPORT_CSV_COLUMNS]));
        while (!closedByReader) {
          const batch = await readFeed(em, cursor, opts.batchSize, watermark);
          if (batch.length === 0) break;
          await write(target, batch.map(opts.format === 'csv' ? csvEvent : jsonlEvent).join(''));
          count += batch.length;
          const last = batch.at(-1);
          if (last) cursor = cursorOf(last);
          progress.update(count, count);
          if (batch.length < opts.batchSize) break;
        }
        const cp = checkpoint;
        if (cp && !closedByReader) {
          await write(
            target,
            opts.format === 'csv' ? csvLine(['', '', '', '', 'checkpoint', cp.issuedAt, '', '', cp.root, JSON.stringify(cp)]) : `${JSON.stringify({ checkpoint: cp })}\n`,
          );
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
  const nextCursor = encodeFeedCursor(cursor);
  const cp = checkpoint as CheckpointView | null;
  out.result(
    {
      ok: true,
      format: opts.format,
      events: count,
      after: encodeFeedCursor(start),
      nextCursor,
      watermark,
      checkpoint: cp && { size: cp.size, root: cp.root, cursor: cp.cursor },
      out: opts.out ?? null,
      durationMs,
    },
    () => [
      `export: ${count} events as ${opts.format} to ${opts.out ?? 'stdout'} in ${formatDuration(durationMs)}; continue with --after ${nextCursor}` +
        (cp ? `; ends with checkpoint ${cp.size} (root ${cp.root})` : ''),
    ],
  );
  return EXIT.ok;
}
