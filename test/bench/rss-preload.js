// Preloaded into the admin script's processes (NODE_OPTIONS=--import …) by
// admin-cli.ts: on exit each Node process appends its peak RSS to
// $BENCH_RSS_FILE, one JSON line: {"argv": [...], "maxRssKb": n}.
import { appendFileSync } from 'node:fs';
import process from 'node:process';

const file = process.env.BENCH_RSS_FILE;
if (file) {
  process.once('exit', () => {
    const line = { argv: process.argv.slice(1), maxRssKb: process.resourceUsage().maxRSS };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  });
}
