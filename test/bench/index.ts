/**
 * `npm run bench [-- --quick] [-- --json-only] [-- --workers 1,2,4]`
 *
 * Starts the real stack (stack.ts), drives the API over HTTP from wrk, and in
 * the same run measures what this machine can do at best for the same work:
 * pgbench with the ledger's transactions, a bare Express app answering the
 * same bytes, BullMQ with a no-op processor. Prints every figure beside its
 * limit and the team's targets (targets.ts), and writes it all as JSON to
 * .data/bench/. Missed targets are reported, not failed; the exit code is
 * non-zero only when a step of the benchmark itself broke.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runAdmin, verifyAndExport, writeImportCsv } from './admin-cli.js';
import { bullmqLimit, startBareExpress, startNoopWorkers } from './limits.js';
import { dropPgbench, pgbench, setupPgbench, type PgbenchScript } from './pgbench.js';
import { makePlan } from './plan.js';
import { rssMb } from './processes.js';
import { fullPage, probe, writeReadPaths, type ReadPaths } from './reads.js';
import { Report, fmt, type Limit } from './report.js';
import { retireEndToEnd, retireRequests } from './retirement.js';
import { seedCredits, seedUpTo } from './seed.js';
import { makeWorkDir, startLedger, startServices, type Stack } from './stack.js';
import { judge } from './targets.js';
import { wrk, type WrkRun } from './wrk.js';

const USAGE = 'usage: npm run bench [-- --quick] [--json-only] [--workers 1,2,4]   (BENCH_SCALE=0.5 scales every count)';
function cli() {
  try {
    const { values } = parseArgs({
      options: { quick: { type: 'boolean' }, 'json-only': { type: 'boolean' }, workers: { type: 'string' }, help: { type: 'boolean' } },
    });
    const workers = values.workers?.split(',').map(Number);
    if (workers?.some((w) => !Number.isInteger(w) || w < 1 || w > 16)) throw new Error('--workers takes worker counts from 1 to 16, e.g. --workers 1,2,4');
    return { ...values, workers };
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
const opts = cli();
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
const plan = makePlan(Boolean(opts.quick), opts.workers, Number(process.env.BENCH_SCALE ?? '1'));
const began = performance.now();
const say = (msg: string) => process.stderr.write(`[bench ${((performance.now() - began) / 1000).toFixed(1)}s] ${msg}\n`);
const report = new Report();
const limits = new Map<string, Limit>();
const run = Date.now().toString(36);

/** One part of the run; a part that breaks is reported and the rest goes on. */
async function step(name: string, fn: () => Promise<void>): Promise<void> {
  say(name);
  try {
    await fn();
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    report.failures.push({ step: name, error });
    say(`FAILED: ${name}: ${error}`);
  }
}

const wrkNote = (r: WrkRun) => [r.errors ? `${r.errors} errors` : '', r.exhaustedThreads ? 'ran out of IDs' : ''].filter(Boolean).join(', ') || undefined;
const addWrk = (id: string, label: string, r: WrkRun) =>
  report.add({ id, label, value: r.rps, unit: 'req/s', p50Ms: r.p50Ms, p99Ms: r.p99Ms, note: wrkNote(r) });

say(`${plan.name} run on ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, load average ${loadavg()[0]?.toFixed(1)}`);
// Every process the run needs starts now, side by side, each as soon as what it needs is up.
// The admin script's --help run is the baseline of its peak RSS.
say('starting PostgreSQL, Redis, bare Express and admin --help (RSS baseline); then the API, workers and no-op BullMQ workers');
const dir = await makeWorkDir();
const [services, bare, help] = await Promise.all([startServices(dir, say), startBareExpress(dir), runAdmin(['--help'], {}, dir)]);
const [ledger, noop] = await Promise.all([
  startLedger(services, plan.workers[0] ?? 1),
  startNoopWorkers(services, 2, Number(process.env.WORKER_CONCURRENCY ?? 4)),
]).catch(async (err: unknown) => {
  await services.stop(true);
  throw err;
});
const stack: Stack = { ...services, ...ledger };
const sizes = { small: 0, large: 0 };
let smallPaths: ReadPaths | undefined;
let getBody = '';

try {
  const actor = stack.keys.issuerId;

  const reads = async (paths: ReadPaths, connections: number[], size: 'small' | 'large') => {
    const suffix = size === 'small' ? '' : '/large';
    const label = `(${fmt(sizes[size])} credits)`;
    for (const c of connections) {
      const load = (file: string) => wrk({ script: 'paths', url: stack.apiUrl, key: stack.keys.auditor, connections: c, seconds: plan.seconds, args: [file] });
      addWrk(`get@${c}${suffix}`, `credits.get @${c} ${label}`, await load(paths.get));
      addWrk(`listFirst@${c}${suffix}`, `credits.list first page @${c} ${label}`, await load(paths.listFirst));
      addWrk(`listDeep@${c}${suffix}`, `credits.list deep cursor @${c} ${label}`, await load(paths.listDeep));
    }
  };
  const warmUp = async (script: 'paths' | 'create', args: string[], key: string) => {
    if (plan.warmupSeconds > 0) await wrk({ script, url: stack.apiUrl, key, connections: 16, seconds: plan.warmupSeconds, args });
  };

  await step(`seed the ledger to ${fmt(plan.small)} credits; credits.get and credits.list`, async () => {
    sizes.small = await seedUpTo(stack.db, plan.small, { run: `${run}s`, actor });
    smallPaths = await writeReadPaths(stack.db, stack.dir, 'small');
    getBody = await probe(stack.apiUrl, stack.keys.auditor, smallPaths.get);
    await probe(stack.apiUrl, stack.keys.auditor, smallPaths.listFirst, fullPage);
    await probe(stack.apiUrl, stack.keys.auditor, smallPaths.listDeep, fullPage);
    await warmUp('paths', [smallPaths.get], stack.keys.auditor);
    await reads(smallPaths, plan.readConnections, 'small');
  });

  await step('credits.create', async () => {
    await warmUp('create', [`${run}w`], stack.keys.issuer);
    for (const c of plan.createConnections) {
      const r = await wrk({ script: 'create', url: stack.apiUrl, key: stack.keys.issuer, connections: c, seconds: plan.seconds, args: [`${run}c${c}`] });
      addWrk(`create@${c}`, `credits.create @${c}`, r);
    }
  });

  await step('limit: bare Express answering the same bytes', async () => {
    const created = await fetch(`${stack.apiUrl}/trpc/credits.create`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.keys.issuer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ projectName: 'Bare Body', registry: 'Verra', vintage: 2020, quantity: '1', serialNumber: `BARE-${run}` }),
    });
    await bare.setBodies({ get: getBody, create: await created.text() });
    if (!smallPaths) throw new Error('no credits.get paths (the first step failed)');
    for (const c of plan.readConnections) {
      const r = await wrk({ script: 'paths', url: bare.url, key: stack.keys.auditor, connections: c, seconds: plan.seconds, args: [smallPaths.get] });
      limits.set(`bare.get@${c}`, { label: `bare Express GET @${c}`, value: r.rps });
    }
    for (const c of plan.barePost ? plan.createConnections : []) {
      const r = await wrk({ script: 'create', url: bare.url, key: stack.keys.issuer, connections: c, seconds: plan.seconds, args: [`${run}b${c}`] });
      limits.set(`bare.create@${c}`, { label: `bare Express POST @${c}`, value: r.rps });
    }
    await bare.proc.stop();
  });

  for (const w of plan.workers) {
    await step(`retirement end to end, ${w} worker process(es)`, async () => {
      const ids = await seedCredits(stack.db, plan.endToEndCredits, { run: `${run}e${w}`, actor });
      const e = await retireEndToEnd(stack, ids, w);
      report.add({
        id: `e2e/${w}w`,
        label: `retirement end to end, ${w} worker${w > 1 ? 's' : ''} (request → retired)`,
        value: e.retiredPerSecond,
        unit: 'retired/s',
        p50Ms: e.p50Ms,
        p99Ms: e.p99Ms,
        note: `${fmt(e.credits)} credits in ${fmt(e.seconds, 1)} s`,
      });
    });
  }
  await step('worker RSS', async () => {
    const rss = await Promise.all(stack.workers.map((w) => rssMb(w.pid)));
    const known = rss.filter((r): r is number => r !== null);
    if (known.length) report.add({ id: 'rss.worker', label: `worker RSS after the end-to-end runs (${known.length} processes)`, value: Math.max(...known), unit: 'MB', note: `each: ${known.join(', ')} MB` });
  });

  await step('credits.retire requests alone (workers stopped)', async () => {
    const ids = await seedCredits(stack.db, plan.retirePool, { run: `${run}r`, actor });
    const r = await retireRequests(stack, ids, plan.seconds);
    addWrk('retire@16', 'credits.retire request @16 (answer `queued`)', r);
  });

  await step(`admin import of ${fmt(plan.importRows)} rows`, async () => {
    const csv = join(stack.dir, 'import.csv');
    await writeImportCsv(csv, plan.importRows, run);
    const r = await runAdmin(['import', csv, '--json', '--quiet'], { ...stack.ledgerEnv, LEDGER_URL: stack.apiUrl, LEDGER_API_KEY: stack.keys.admin }, stack.dir);
    const created = (r.output as { created?: number } | null)?.created;
    if (r.code !== 0 || created !== plan.importRows) throw new Error(`import exited ${r.code}, created ${created}: ${r.stderr}`);
    report.add({ id: 'import', label: `admin import, ${fmt(plan.importRows)} rows (wall time)`, value: r.seconds, unit: 's', note: `${fmt(plan.importRows / r.seconds)} rows/s, peak RSS ${r.peakRssMb} MB` });
  });

  await step(`seed the ledger to ${fmt(plan.large)} credits; credits.get and credits.list again`, async () => {
    sizes.large = await seedUpTo(stack.db, plan.large, { run: `${run}l`, actor });
    const paths = await writeReadPaths(stack.db, stack.dir, 'large');
    await probe(stack.apiUrl, stack.keys.auditor, paths.listDeep, fullPage);
    await warmUp('paths', [paths.get], stack.keys.auditor);
    await reads(paths, [16], 'large');
  });

  await step('admin verify and export over the whole log', async () => {
    const audit = await verifyAndExport(stack.ledgerEnv, stack.dir, help.peakRssMb ?? NaN);
    audit.measurements.forEach((m) => report.add(m));
    if (audit.problem) throw new Error(audit.problem);
  });

  await step('API RSS', async () => {
    const rss = await rssMb(stack.api.pid);
    if (rss !== null) report.add({ id: 'rss.api', label: 'API RSS at the end', value: rss, unit: 'MB' });
  });

  await step('limit: pgbench with the ledger transactions', async () => {
    await setupPgbench(stack.db, plan.pgbenchRows);
    const runs: [PgbenchScript, number[]][] = [
      ['create', plan.createConnections],
      ['get', plan.readConnections],
      ['list', plan.readConnections],
      ['retire', [16]],
    ];
    for (const [script, clients] of runs) {
      for (const c of clients) {
        const r = await pgbench({ script, clients: c, seconds: plan.seconds, databaseUrl: stack.adminDatabaseUrl, rows: plan.pgbenchRows });
        limits.set(`pgbench.${script}@${c}`, { label: `pgbench ${script}-shaped -c${c}`, value: r.tps });
        if (r.failed) say(`pgbench ${script} -c${c}: ${r.failed} failed transactions`);
      }
    }
    await dropPgbench(stack.db);
  });

  await step('limit: BullMQ with a no-op processor', async () => {
    const b = await bullmqLimit(stack, noop, plan.bullmqJobs);
    limits.set('bullmq.add', { label: 'BullMQ add (one job per ID) @16', value: b.addedPerSecond });
    limits.set('bullmq.process', { label: `BullMQ no-op, ${b.workers} workers × ${b.concurrency}`, value: b.processedPerSecond });
  });
} finally {
  say('stopping the stack');
  await Promise.all([bare.proc.stop(), ...noop.procs.map((p) => p.stop()), ledger.stop()]);
  await services.stop(report.failures.length > 0);
}

judge(report, limits, { plan, sizes });
const { file, json } = await report.write({
  startedAt: new Date(Date.now() - (performance.now() - began)).toISOString(),
  seconds: Math.round((performance.now() - began) / 1000),
  plan,
  sizes,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverage: loadavg(), node: process.version },
  limits: Object.fromEntries(limits),
});
if (opts['json-only']) {
  console.log(json);
  say(`JSON: ${file}`);
} else {
  report.print((line) => console.log(line));
  if (plan.name === 'quick') console.log('\n--quick: small ledgers and 1-second runs; it shows the benchmark works. Take figures from a full run.');
  console.log(`\nJSON: ${file}  (${plan.name} run, ${Math.round((performance.now() - began) / 1000)} s)`);
}
process.exit(report.failures.length > 0 ? 1 : 0);
