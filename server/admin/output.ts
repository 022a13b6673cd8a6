import type { ExitCode } from './errors.js';

/**
 * Where a command's words go. Results go to stdout (one JSON document with
 * --json); progress, warnings and per-item problems go to stderr, so stdout
 * stays clean for pipes.
 */
export class Output {
  constructor(
    readonly json: boolean,
    /** stderr when stdout carries data (export without --out). */
    private readonly resultStream: NodeJS.WritableStream = process.stdout,
  ) {}

  /** Prints the command's result: the JSON value with --json, else the human lines. */
  result(value: unknown, human: () => string[]): void {
    if (this.json) this.resultStream.write(`${JSON.stringify(value, null, 2)}\n`);
    else for (const line of human()) this.resultStream.write(`${line}\n`);
  }

  /** Progress and notes for a person: stderr, in both modes. */
  note(message: string): void {
    process.stderr.write(`${message}\n`);
  }

  warn(message: string): void {
    process.stderr.write(`warning: ${message}\n`);
  }

  /** A usage or connection error, printed the same way everywhere. */
  error(message: string, exitCode: ExitCode): void {
    if (this.json) this.resultStream.write(`${JSON.stringify({ ok: false, error: message, exitCode }, null, 2)}\n`);
    process.stderr.write(`error: ${message}\n`);
  }
}


/** Left-aligned columns for small tables. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
