/**
 * What a run found: each measurement beside the machine's limit for the same
 * work (as a ratio), and the team's targets marked ✓ or ✗. Printed as tables
 * and written as JSON. A missed target is reported, never an error.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from './processes.js';

export type Limit = { label: string; value: number };

export type Measurement = {
  id: string;
  label: string;
  value: number;
  unit: string;
  p50Ms?: number;
  p99Ms?: number;
  /** Anything worth knowing beside the figure: errors, sizes, peak RSS. */
  note?: string;
  limits?: Limit[];
};

export type Target = { label: string; actual: string; met: boolean };

export class Report {
  readonly measurements: Measurement[] = [];
  readonly targets: Target[] = [];
  readonly failures: { step: string; error: string }[] = [];

  add(m: Measurement): Measurement {
    this.measurements.push(m);
    return m;
  }

  get(id: string): Measurement | undefined {
    return this.measurements.find((m) => m.id === id);
  }

  /**
   * A target `a ≥ share × b` (or `a ≤ …` when `atMost`); silently skipped when
   * either figure is missing (its step failed, and that is reported instead).
   */
  ratio(label: string, a: number | undefined, b: number | undefined, share: number, opts: { atMost?: boolean; unit?: string } = {}): void {
    if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return;
    const r = a / b;
    const shown = opts.unit === '×' ? `${fmt(r, 2)}×` : `${fmt(r * 100, 0)}%`;
    this.targets.push({ label, actual: `${shown} (${fmt(a)} vs ${fmt(b)})`, met: opts.atMost ? r <= share : r >= share });
  }

  /** A target on one figure: `value < max` or `value ≥ min`. */
  bound(label: string, value: number | undefined, bound: { max?: number; min?: number }, unit: string): void {
    if (value === undefined || !Number.isFinite(value)) return;
    const met = (bound.max === undefined || value < bound.max) && (bound.min === undefined || value >= bound.min);
    this.targets.push({ label, actual: `${fmt(value, value < 100 ? 1 : 0)} ${unit}`, met });
  }

  print(out: (line: string) => void): void {
    const rows = this.measurements.flatMap((m) => {
      const limits = m.limits?.length ? m.limits : [undefined];
      return limits.map((l, i) => [
        i === 0 ? m.label : '',
        i === 0 ? `${fmt(m.value)} ${m.unit}` : '',
        i === 0 && m.p50Ms !== undefined ? fmt(m.p50Ms, 1) : '',
        i === 0 && m.p99Ms !== undefined ? fmt(m.p99Ms, 1) : '',
        l ? l.label : '',
        l ? fmt(l.value) : '',
        l && l.value > 0 ? `${fmt((m.value / l.value) * 100, 0)}%` : '',
        i === 0 ? (m.note ?? '') : '',
      ]);
    });
    out(table(['measurement', 'result', 'p50 ms', 'p99 ms', 'limit (same run, same machine)', 'limit', 'ratio', 'note'], rows));
    out('');
    out(table(['', 'target', 'actual'], this.targets.map((t) => [t.met ? '✓' : '✗', t.label, t.actual])));
    const met = this.targets.filter((t) => t.met).length;
    out(`targets met: ${met} of ${this.targets.length} (a report, not a gate)`);
    for (const f of this.failures) out(`STEP FAILED: ${f.step}: ${f.error}`);
  }

  /** Writes .data/bench/<timestamp>.json (git-ignored); returns its path and text. */
  async write(meta: Record<string, unknown>): Promise<{ file: string; json: string }> {
    const dir = join(repoRoot, '.data', 'bench');
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    const json = JSON.stringify({ ...meta, measurements: this.measurements, targets: this.targets, failures: this.failures }, null, 2);
    await writeFile(file, `${json}\n`);
    return { file, json };
  }
}

export function fmt(n: number, digits = n >= 100 ? 0 : 1): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-';
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max([...h].length, ...rows.map((r) => [...(r[i] ?? '')].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
