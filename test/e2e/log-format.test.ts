import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseLogLines } from '../helpers/log-lines.js';

/*
 * The logger as a process sees it: pretty lines (pino-pretty) only when
 * stdout is a terminal and NODE_ENV is not production; JSON lines otherwise.
 * util-linux's `script` gives the child a real terminal. Secrets are scrubbed
 * before either destination writes.
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'pretty-secret-0123456789abcdef';
const program = [
  `const { createLogger } = await import('./server/logger.ts');`,
  `createLogger('probe', 'info', { secrets: [${JSON.stringify(SECRET)}] }).info({ creditId: 'cc_1', note: ${JSON.stringify(`key ${SECRET}`)} }, 'hello from a terminal');`,
].join(' ');
const node = [process.execPath, '--import', 'tsx', '--input-type=module', '-e', program];

async function run(onTerminal: boolean, env: NodeJS.ProcessEnv): Promise<string> {
  const quoted = node.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
  const [file, args] = onTerminal ? ['script', ['-qec', quoted, '/dev/null']] : [node[0]!, node.slice(1)];
  const { stdout } = await promisify(execFile)(file, args, { cwd: repoRoot, env: { ...process.env, NODE_ENV: '', ...env }, timeout: 60_000 });
  return stdout;
}

describe('log format', () => {
  it('is pretty on a development terminal', async () => {
    const out = await run(true, {});
    expect(out).toMatch(/INFO.*\(probe\/\d+\).*hello from a terminal/);
    expect(out).toContain('creditId');
    expect(parseLogLines(out)).toEqual([]);
    expect(out).not.toContain(SECRET);
  });

  it('is JSON on a terminal with NODE_ENV=production, and whenever stdout is not a terminal', async () => {
    for (const out of [await run(true, { NODE_ENV: 'production' }), await run(false, {})]) {
      expect(parseLogLines(out.replaceAll('\r', ''))).toEqual([
        expect.objectContaining({ level: 30, name: 'probe', creditId: 'cc_1', msg: 'hello from a terminal', note: 'key [REDACTED]' }),
      ]);
      expect(out).not.toContain(SECRET);
    }
  });
});
