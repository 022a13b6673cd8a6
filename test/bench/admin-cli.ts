/**
 * The operator's script as operators run it: `npm run admin -- …` as a child
 * process, timed, with its peak RSS taken by a preload (rss-preload.js) in
 * the process that runs server/admin/main.ts.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, runCommand } from './processes.js';

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
