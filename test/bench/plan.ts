/**
 * How big and how long: the full run (10–25 minutes) and --quick (under a
 * minute, every kind of measurement once, for CI). BENCH_SCALE scales the
 * counts of either.
 */
export type Plan = {
  name: 'full' | 'quick';
  /** wrk and pgbench run length, and an unrecorded warm-up before each endpoint's first run. */
  seconds: number;
  warmupSeconds: number;
  createConnections: number[];
  readConnections: number[];
  /** Credits in the ledger for the two read runs ("small" and "large"). */
  small: number;
  large: number;
  /** Credits made ready for the retire-request run (must outlast it) and for each end-to-end run. */
  retirePool: number;
  endToEndCredits: number;
  workers: number[];
  importRows: number;
  /** Rows in pgbench's scratch tables. */
  pgbenchRows: number;
  bullmqJobs: number;
  /** bare Express POST create as well as GET get. */
  barePost: boolean;
};

const FULL: Plan = {
  name: 'full',
  seconds: 10,
  warmupSeconds: 3,
  createConnections: [1, 16, 64],
  readConnections: [16, 64],
  small: 10_000,
  large: 1_000_000,
  retirePool: 60_000,
  endToEndCredits: 5_000,
  workers: [1, 2, 4],
  importRows: 100_000,
  pgbenchRows: 100_000,
  bullmqJobs: 20_000,
  barePost: true,
};

const QUICK: Plan = {
  name: 'quick',
  seconds: 1,
  warmupSeconds: 0,
  createConnections: [16],
  readConnections: [16],
  small: 1_000,
  large: 5_000,
  retirePool: 2_000,
  endToEndCredits: 100,
  workers: [2],
  importRows: 1_000,
  pgbenchRows: 2_000,
  bullmqJobs: 2_000,
  barePost: false,
};

export function makePlan(quick: boolean, workers: number[] | undefined, scale: number): Plan {
  const base = quick ? QUICK : FULL;
  const n = (x: number) => Math.max(100, Math.round(x * scale));
  return {
    ...base,
    workers: workers ?? base.workers,
    small: n(base.small),
    large: n(base.large),
    retirePool: n(base.retirePool),
    endToEndCredits: n(base.endToEndCredits),
    importRows: n(base.importRows),
    pgbenchRows: n(base.pgbenchRows),
    bullmqJobs: n(base.bullmqJobs),
  };
}
