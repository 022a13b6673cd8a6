/**
 * The operator's script as operators run it: `npm run admin -- …` as a child
 * process, timed, with its peak RSS taken by a preload (rss-preload.js) in
 * the process that runs server/admin/main.ts.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, runCommand } from './processes.js';
import { fmt, type Measurement } from './report.js';

export type AdminRun = { args: string[]; code: number; seconds: number; peakRssMb: number | null; output: unknown; stderr: string };

const preload = fileURLToPath(new URL('rss-preload.js', import.meta.url));
let runs = 0;

export async function runAdmin(args: string[], env: Record<string, string>, dir: string): Promise<AdminRun> {
  const rssFile = join(dir, `admin-rss-${++runs}.jsonl`);
  const nodeOptions = [process.env.NODE_OPTIONS, `--import ${preload}`].filter(Boolean).join(' ');
  const res = await runCommand('npm', ['run', '--silent', 'admin', '--', ...args], {
    env: cleanEnv({ ...env, NODE_OPTIONS: nodeOptions, BENCH_RSS_FILE: rssFile }),
  });
  const lines = (await readFile(rssFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  await rm(rssFile, { force: true });
  // npm and tsx's launcher are Node processes too; the script is the one running main.ts.
  const peaks = lines
    .map((l) => JSON.parse(l) as { argv: string[]; maxRssKb: number })
    .filter((p) => p.argv.some((a) => a.endsWith('server/admin/main.ts')))
    .map((p) => p.maxRssKb);
  let output: unknown;
  try {
    output = JSON.parse(res.stdout) as unknown;
  } catch {
    output = res.stdout.trim();
  }
  const peakRssMb = peaks.length ? Math.round(Math.max(...peaks) / 1024) : null;
  return { args, code: res.code, seconds: res.ms / 1000, peakRssMb, output, stderr: res.stderr.slice(-2000) };
}

/** A CSV of `rows` new credits in the import format (header projectName,registry,vintage,quantity,serialNumber). */
export async function writeImportCsv(file: string, rows: number, run: string): Promise<void> {
  const lines = ['projectName,registry,vintage,quantity,serialNumber'];
  for (let i = 0; i < rows; i++) lines.push(`Import Project ${i % 89},Gold Standard,${2012 + (i % 12)},${1 + (i % 700)}.25,IMP-${run}-${i}`);
  await writeFile(file, `${lines.join('\n')}\n`);
}

/**
 * `verify` and `export --format jsonl` over the whole log: wall time, and peak
 * RSS growth over the same script's --help (`baselineMb`). `problem` says why
 * verify did not pass.
 */
export async function verifyAndExport(env: Record<string, string>, dir: string, baselineMb: number): Promise<{ measurements: Measurement[]; problem?: string }> {
  const verify = await runAdmin(['verify', '--json', '--quiet'], env, dir);
  const out = join(dir, 'events.jsonl');
  const exported = await runAdmin(['export', '--format', 'jsonl', '--out', out, '--json', '--quiet'], env, dir);
  await rm(out, { force: true });
  const v = verify.output as { ok?: boolean; eventsChecked?: number } | null;
  const x = exported.output as { events?: number } | null;
  const passed = verify.code === 0 && v?.ok === true;
  const growth = (r: AdminRun) => (r.peakRssMb ?? NaN) - baselineMb;
  const rssNote = (r: AdminRun) => `peak RSS ${r.peakRssMb} MB = --help ${baselineMb} MB + ${growth(r)} MB`;
  return {
    measurements: [
      { id: 'verify', label: `admin verify, ${fmt(v?.eventsChecked ?? NaN)} events`, value: verify.seconds, unit: 's', note: `${passed ? 'OK' : 'NOT OK'}; ${rssNote(verify)}` },
      {
        id: 'export',
        label: `admin export --format jsonl, ${fmt(x?.events ?? NaN)} events`,
        value: exported.seconds,
        unit: 's',
        note: `${exported.code === 0 ? '' : `exit ${exported.code}; `}${rssNote(exported)}`,
      },
      { id: 'rss.verify', label: 'admin verify: peak RSS growth over --help', value: growth(verify), unit: 'MB' },
      { id: 'rss.export', label: 'admin export: peak RSS growth over --help', value: growth(exported), unit: 'MB' },
    ],
    ...(passed ? {} : { problem: `verify exited ${verify.code}: ${JSON.stringify(verify.output).slice(0, 500)} ${verify.stderr}` }),
  };
}
