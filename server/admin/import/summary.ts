import type { CliError } from '../errors.js';
import { formatDuration } from '../output.js';
import type { Checkpoint } from './checkpoint.js';
import type { InputRow, SourceFormat } from './sources.js';
import type { Outcome } from './window.js';

/** Per-row errors listed in the --json summary; all of them are printed to stderr. */
const MAX_LISTED_ERRORS = 1000;

type RowError = { row: number; outcome: 'invalid' | 'conflict'; message: string; existingId?: string };
export type Counts = { created: number; existing: number; conflicts: number; invalid: number };

export const zeroCounts = (): Counts => ({ created: 0, existing: 0, conflicts: 0, invalid: 0 });
export const addCounts = (a: Counts, b: Counts): Counts => ({
  created: a.created + b.created,
  existing: a.existing + b.existing,
  conflicts: a.conflicts + b.conflicts,
  invalid: a.invalid + b.invalid,
});

/** Rows not imported: each printed as it comes (line or item number first), the first ones kept for the summary. */
export class RowErrors {
  readonly listed: RowError[] = [];
  total = 0;

  constructor(
    private readonly format: SourceFormat,
    private readonly print: (line: string) => void,
  ) {}

  readonly report = (e: RowError): void => {
    this.total++;
    if (this.listed.length < MAX_LISTED_ERRORS) this.listed.push(e);
    this.print(`${whereOf(this.format)} ${e.row}: ${e.outcome}: ${e.message}`);
  };
}

const whereOf = (format: SourceFormat) => (format === 'csv' ? 'line' : 'item');

/** Counts the outcomes of a batch's rows and reports the rows that were not imported. */
export function tally(rows: readonly InputRow[], outcomes: Outcome[], counts: Counts, report: (e: RowError) => void): void {
  rows.forEach((row, i) => {
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

/** The API's messages start with the field name already; add the path only where they do not ('(input)' is the whole row). */
const issueText = (issue: { path: string; message: string }): string => {
  const field = issue.path.split('.').at(-1) ?? '';
  return !issue.path || issue.path === '(input)' || issue.message.startsWith(field) ? issue.message : `${issue.path}: ${issue.message}`;
};

/** How an import run ended, as the summary reports it. */
export type ImportRun = {
  file: string;
  format: SourceFormat;
  /** What stopped the run early, if anything did. */
  fatal: CliError | null;
  interrupted: boolean;
  rowsSent: number;
  skipped: number;
  counts: Counts;
  errors: RowErrors;
  durationMs: number;
  /** The checkpoint this run resumed from. */
  previous: Checkpoint | null;
  checkpointFile: string;
  /** The last row every row up to which the API answered. */
  acknowledged: { ordinal: number; row: number };
};

export const isComplete = (run: Pick<ImportRun, 'fatal' | 'interrupted'>): boolean => !run.interrupted && !run.fatal;

/** The summary: the --json document, and the lines a person reads. */
export function summarize(run: ImportRun): { value: unknown; lines: () => string[] } {
  const { counts, rowsSent, skipped, durationMs, file } = run;
  const complete = isComplete(run);
  const rowsPerSecond = durationMs > 0 ? Math.round((rowsSent / durationMs) * 1000) : rowsSent;
  const value = {
    ok: complete && counts.conflicts + counts.invalid === 0,
    complete,
    file,
    format: run.format,
    rows: rowsSent,
    skipped,
    ...counts,
    durationMs,
    rowsPerSecond,
    errors: run.errors.listed,
    errorsTotal: run.errors.total,
    ...(run.previous ? { resumedAfterRow: run.previous.lastRow, earlierRuns: run.previous.counts } : {}),
    ...(complete ? {} : { checkpoint: run.checkpointFile, resumeAfterRow: run.acknowledged.row, stoppedBy: run.fatal ? run.fatal.message : 'signal' }),
  };
  const lines = () => {
    const out = [
      `${complete ? 'Imported' : 'Stopped importing'} ${file}: ${rowsSent} rows in ${formatDuration(durationMs)} (${rowsPerSecond} rows/s)` +
        (skipped > 0 ? `, ${skipped} rows skipped as done by an earlier run` : ''),
      `  created          ${counts.created}`,
      `  already existed  ${counts.existing}`,
      `  conflicts        ${counts.conflicts}`,
      `  invalid          ${counts.invalid}`,
    ];
    if (complete && counts.created === 0 && rowsSent > 0 && counts.existing > 0) out.push(`Nothing new: the ledger already had every valid row.`);
    if (complete && rowsSent === 0 && skipped === 0) out.push('The file holds no data rows.');
    if (run.errors.total > 0) out.push(`${run.errors.total} row(s) not imported; each is listed above with its ${whereOf(run.format)} number.`);
    if (!complete) {
      out.push(
        run.acknowledged.ordinal > 0
          ? `Re-run the same command to resume after row ${run.acknowledged.row} (progress kept in ${run.checkpointFile}).`
          : 'No row was acknowledged; re-run the same command to start again.',
      );
    }
    return out;
  };
  return { value, lines };
}
