import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { bareEnv, runCli, type CliResult } from '../helpers/cli-run.js';

/*
 * What every command shares: --help exits 0, and usage, configuration and
 * connection problems exit 2 with one line saying what is wrong. No ledger
 * is needed for any of it.
 */

const COMMANDS = [
  [],
  ['import'],
  ['verify'],
  ['rebuild-projections'],
  ['queue'],
  ['queue', 'status'],
  ['queue', 'retry-failed'],
  ['queue', 'reconcile'],
  ['keys'],
  ['keys', 'create'],
  ['keys', 'list'],
  ['keys', 'revoke'],
  ['export'],
];

/** Runs the invocations a few at a time: each is a Node process. */
async function runAll(invocations: string[][], env: NodeJS.ProcessEnv): Promise<CliResult[]> {
  const results: CliResult[] = [];
  for (let i = 0; i < invocations.length; i += 4) {
    results.push(...(await Promise.all(invocations.slice(i, i + 4).map((args) => runCli(args, env)))));
  }
  return results;
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 1;
}

describe('admin --help', () => {
  it('exits 0 for every command and shows its usage', async () => {
    const results = await runAll(
      COMMANDS.map((c) => [...c, '--help']),
      bareEnv(),
    );
    results.forEach((r, i) => {
      const command = (COMMANDS[i] ?? []).join(' ');
      expect(r.code, `${command} --help\n${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`Usage: admin${command ? ` ${command}` : ''}`);
    });
    const leaves = results.filter((_, i) => !['', 'queue', 'keys'].includes((COMMANDS[i] ?? []).join(' ')));
    // Every command that does something documents --json and its exit codes.
    for (const r of leaves) {
      expect(r.stdout).toContain('--json');
      expect(r.stdout).toMatch(/Exit code: 0 /);
    }
    expect(results[0]?.stdout).toMatch(/Exit codes:\n\s+0\s+success/);
  });
});

describe('admin usage and connection errors', () => {
  it('exits 2 for unknown commands, missing arguments and bad option values', async () => {
    const results = await runAll(
      [['bogus'], ['import'], ['export', '--format', 'xml'], ['keys', 'create', '--name', 'x'], ['verify', '--batch-size', 'lots'], ['import', 'credits.xlsx']],
      bareEnv({ LEDGER_API_KEY: 'x'.repeat(30) }),
    );
    for (const r of results) expect(r.code, r.stderr).toBe(2);
    expect(results[0]?.stderr).toContain("unknown command 'bogus'");
    expect(results[2]?.stderr).toContain('--format must be csv or jsonl');
    expect(results[3]?.stderr).toContain("required option '--role <role>' not specified");
    expect(results[5]?.stderr).toMatch(/cannot read credits\.xlsx|expected a \.csv or \.json file/);
  });

  it('exits 2 when configuration is missing or a service is unreachable, with --json saying so too', async () => {
    const port = await closedPort();
    const results = await runAll(
      [
        ['keys', 'list'],
        ['keys', 'list', '--json', '--api-key', 'x'.repeat(30), '--url', `http://127.0.0.1:${port}`],
        ['verify', '--json'],
        ['export'],
        ['queue'],
      ],
      bareEnv(),
    );
    const [noKey, noApi, noDbJson, noDbExport, noRedis] = results;
    expect(noKey?.stderr).toContain('no API key');
    expect(noApi?.stderr).toContain(`cannot reach the ledger API at http://127.0.0.1:${port}`);
    expect(noApi?.json()).toMatchObject({ ok: false, exitCode: 2 });
    expect(noDbJson?.json<{ error: string }>().error).toContain('DATABASE_URL is not set');
    expect(noDbExport?.stderr).toContain('DATABASE_URL is not set');
    expect(noRedis?.stderr).toContain('REDIS_URL is not set');
    for (const r of results) expect(r.code).toBe(2);

    const down = await runCli(['verify'], bareEnv({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/ledger` }));
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('cannot reach PostgreSQL (DATABASE_URL)');
  });
});
