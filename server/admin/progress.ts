import { Presets, SingleBar } from 'cli-progress';
import { formatDuration } from './output.js';

/**
 * Progress on stderr: a cli-progress bar with rate and ETA on a terminal,
 * otherwise (CI, pipes, tests) a plain line every few seconds and at the end.
 *
 * `done`/`total` measure the work (bytes of a file, events of the log); `count`
 * is what a person wants to read (rows, events) and the rate is counted in it.
 */
export type Progress = {
  update(done: number, count: number): void;
  /** A line of text that must not be overdrawn by the bar. */
  log(line: string): void;
  stop(): void;
};

type ProgressOptions = {
  label: string;
  /** Total amount of work in the unit of `done`; 0 when unknown. */
  total: number;
  /** What `count` counts, plural: "rows", "events", "credits". */
  unit: string;
  /** Plain lines at most this often (non-TTY). */
  intervalMs?: number;
  /** Defaults to process.stderr.isTTY. */
  tty?: boolean;
  /** No output at all. */
  quiet?: boolean;
};

export function createProgress(opts: ProgressOptions): Progress {
  if (opts.quiet) return { update: () => undefined, log: (line) => void process.stderr.write(`${line}\n`), stop: () => undefined };
  const tty = opts.tty ?? Boolean(process.stderr.isTTY);
  return tty ? barProgress(opts) : lineProgress(opts);
}

const rateOf = (count: number, startedAt: number) => {
  const seconds = (Date.now() - startedAt) / 1000;
  return seconds > 0 ? count / seconds : 0;
};

function barProgress(opts: ProgressOptions): Progress {
  const startedAt = Date.now();
  const bar = new SingleBar(
    {
      format: `${opts.label} [{bar}] {percentage}% | {count} ${opts.unit} | {rate} ${opts.unit}/s | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 40,
      fps: 5,
      barsize: 30,
      // Lines logged between frames erase the bar; redraw it on every tick.
      forceRedraw: true,
    },
    Presets.shades_classic,
  );
  bar.start(Math.max(opts.total, 1), 0, { count: 0, rate: 0 });
  return {
    update(done, count) {
      bar.update(Math.min(done, Math.max(opts.total, 1)), { count, rate: Math.round(rateOf(count, startedAt)) });
    },
    log(line) {
      process.stderr.write(`\r\x1b[2K${line}\n`);
    },
    stop() {
      bar.stop();
    },
  };
}

function lineProgress(opts: ProgressOptions): Progress {
  const startedAt = Date.now();
  const interval = opts.intervalMs ?? 2000;
  let lastPrinted = startedAt;
  let last = { done: 0, count: 0 };
  let printedCount = -1;
  const print = () => {
    const rate = rateOf(last.count, startedAt);
    const parts = [`${opts.label}: ${last.count} ${opts.unit}`];
    if (opts.total > 0) {
      const fraction = Math.min(1, last.done / opts.total);
      parts[0] += ` (${Math.floor(fraction * 100)}%)`;
      const elapsed = Date.now() - startedAt;
      if (fraction > 0 && fraction < 1) parts.push(`ETA ${formatDuration((elapsed / fraction) * (1 - fraction))}`);
    }
    parts.splice(1, 0, `${Math.round(rate)} ${opts.unit}/s`);
    process.stderr.write(`${parts.join(', ')}\n`);
    printedCount = last.count;
    lastPrinted = Date.now();
  };
  return {
    update(done, count) {
      last = { done, count };
      if (Date.now() - lastPrinted >= interval) print();
    },
    log(line) {
      process.stderr.write(`${line}\n`);
    },
    stop() {
      if (printedCount !== last.count) print();
    },
  };
}
