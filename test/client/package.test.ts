/*
 * The client as another repository gets it: `npm pack` in client/ (which
 * builds it), the tarball installed from the npm registry's point of view
 * into a scratch TypeScript project in a temporary folder outside this
 * repository, type-checked strictly there, and run against the real API and
 * a real worker.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { killAllWorkers, spawnWorker, waitForOutput, type WorkerProcess } from '../helpers/worker-process.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const clientDir = path.join(repoRoot, 'client');
const fixtureDir = fileURLToPath(new URL('./package-fixture/', import.meta.url));

type Run = { code: number; stdout: string; stderr: string };

/** Runs a command to completion; a non-zero exit is returned, not thrown, so tests can assert on it. */
function run(file: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  // Without the npm_* variables of the `npm test` that started us, which would steer the npm we start.
  const env = Object.fromEntries(Object.entries({ ...process.env, ...opts.env }).filter(([k]) => !k.startsWith('npm_')));
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: opts.cwd, env, timeout: opts.timeoutMs ?? 240_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
    });
  });
}

const ok = (r: Run, what: string): Run => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
};

type Diagnostic = { file: string; line: number; code: string; message: string };

/** tsc --pretty false output: one `file(line,col): error TSn: text` per error, continuation lines indented. */
function diagnostics(output: string): Diagnostic[] {
  const found: Diagnostic[] = [];
  for (const line of output.split('\n')) {
    const m = /^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/.exec(line);
    if (m) found.push({ file: m[1] ?? '', line: Number(m[2]), code: m[3] ?? '', message: m[4] ?? '' });
    else if (line.startsWith(' ') && found.length > 0) (found.at(-1) as Diagnostic).message += `\n${line.trim()}`;
  }
  return found;
}

/** `// expect TSnnnn: why` comments in the wrong-calls fixture: the error expected on the next line. */
async function expectedErrors(file: string): Promise<Array<{ line: number; code: string }>> {
  const lines = (await readFile(path.join(fixtureDir, file), 'utf8')).split('\n');
  return lines.flatMap((text, i) => {
    const m = /\/\/ expect (TS\d+):/.exec(text);
    return m ? [{ line: i + 2, code: m[1] ?? '' }] : [];
  });
}

describe('the client package, installed outside the repository', () => {
  let tmp: string;
  let scratch: string;
  let packed: { filename: string; files: Array<{ path: string }> };
  let tsc: Run;
  let app: TestApp;
  let worker: WorkerProcess;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ledger-client-package-'));
    const pack = ok(await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: clientDir }), 'npm pack');
    [packed] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as [typeof packed];

    scratch = path.join(tmp, 'app');
    await mkdir(scratch);
    await writeFile(path.join(scratch, 'package.json'), JSON.stringify({ name: 'scratch-ledger-app', private: true, type: 'module' }));
    const { version: tsVersion } = JSON.parse(await readFile(path.join(repoRoot, 'node_modules/typescript/package.json'), 'utf8')) as { version: string };
    ok(await run('npm', ['install', '--no-audit', '--no-fund', path.join(tmp, packed.filename), `typescript@${tsVersion}`], { cwd: scratch }), 'npm install');
    for (const f of ['tsconfig.json', 'create-retire-status.ts', 'wrong-calls.ts']) await copyFile(path.join(fixtureDir, f), path.join(scratch, f));
    // One compile of both files: the right one must come out clean and be emitted, the wrong one must not compile.
    tsc = await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.', '--pretty', 'false'], { cwd: scratch });

    app = await startTestApp();
    worker = spawnWorker(app.env);
    await waitForOutput(worker, /retirement worker started/);
  }, 600_000);

  afterAll(async () => {
    await worker?.stop();
    await killAllWorkers();
    await app?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('packs compiled JavaScript and one bundled declaration file, and nothing of the server', async () => {
    expect(packed.files.map((f) => f.path).sort()).toEqual(['README.md', 'dist/index.d.ts', 'dist/index.js', 'package.json']);

    const installed = path.join(scratch, 'node_modules/@carbon-ledger/client');
    const manifest = JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    // jose checks the ledger's signatures offline (verifyCertificate, verifyCheckpoint).
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['@trpc/client', '@trpc/server', 'jose']);

    const js = await readFile(path.join(installed, 'dist/index.js'), 'utf8');
    const dts = await readFile(path.join(installed, 'dist/index.d.ts'), 'utf8');
    const imported = (text: string) => [...new Set([...text.matchAll(/\bfrom\s+['"]([^'"]+)['"]/g)].map((m) => m[1]))].sort();
    expect(imported(js)).toEqual(['@trpc/client', 'jose']);
    expect(imported(dts)).toEqual(['@trpc/client', '@trpc/server']);
    // The router's types are there, evaluated: a procedure's input and a credit's fields, spelled out.
    expect(dts).toMatch(/create: TRPCMutationProcedure<\{\s+input: \{\s+projectName: string;/);
    expect(dts).toContain('type CreditView = {');
    for (const foreign of ['mikro-orm', 'zod', 'pino', 'ioredis', 'bullmq', 'express', '../server/']) expect(dts).not.toContain(foreign);

    // What a consumer's install pulled in: the package, tRPC, jose, and the typescript we asked for.
    const modules = (await readdir(path.join(scratch, 'node_modules'))).filter((d) => !d.startsWith('.'));
    expect(modules.sort()).toEqual(['@carbon-ledger', '@trpc', 'jose', 'typescript']);
  });

  it('type-checks a correct program strictly, the package and tRPC declarations included', () => {
    const errors = diagnostics(tsc.stdout);
    expect(errors.filter((d) => d.file !== 'wrong-calls.ts'), tsc.stdout).toEqual([]);
    expect(tsc.stderr).toBe('');
  });

  it('refuses wrong calls at compile time, each with the error its line expects', async () => {
    expect(tsc.code).toBe(2); // tsc: errors found, outputs emitted
    const errors = diagnostics(tsc.stdout).filter((d) => d.file === 'wrong-calls.ts');
    expect(errors.map(({ line, code }) => ({ line, code }))).toEqual(await expectedErrors('wrong-calls.ts'));
    const [vintage, beneficiary, missing, status] = errors.map((d) => d.message);
    expect(vintage).toBe("Type 'string' is not assignable to type 'number'.");
    expect(beneficiary).toContain("Property 'beneficiary' is missing");
    expect(missing).toMatch(/^Property 'delete' does not exist on type/);
    expect(status?.split('\n')[0]).toMatch(/^Type '.*"retired".*' is not assignable to type '"done"'\.$/);
  });

  it('runs create → retire → status against the real API, and a worker retires the credit', async () => {
    const { key } = await app.as('admin');
    const serial = `PKG-${randomUUID()}`;
    const r = await run(process.execPath, ['out/create-retire-status.js'], {
      cwd: scratch,
      env: { LEDGER_URL: app.url, LEDGER_API_KEY: key, SERIAL: serial },
      timeoutMs: 60_000,
    });
    expect(r, `worker:\n${worker.output()}`).toMatchObject({ code: 0, stderr: '' });
    const out = JSON.parse(r.stdout) as {
      credit: { id: string; quantity: string; serialNumber: string; status: string };
      created: boolean;
      request: { creditId: string; status: string };
      seen: string[];
      status: { status: string; retirement?: { beneficiary: string; reason: string | null } };
    };
    expect(out.created).toBe(true);
    expect(out.credit).toMatchObject({ quantity: '42.5', serialNumber: serial, status: 'active' });
    expect(out.request.creditId).toBe(out.credit.id);
    expect(['queued', 'processing']).toContain(out.request.status);
    expect(out.seen.at(-1)).toBe('retired');
    expect(out.status).toMatchObject({ status: 'retired', retirement: { beneficiary: 'Scratch Project Ltd', reason: 'package test' } });

    // The ledger holds what the scratch program saw.
    const stored = await app.admin.credits.get.query({ id: out.credit.id });
    expect(stored.credit.status).toBe('retired');
    expect(stored.events.map((e) => e.type)).toEqual(['created', 'retirement_requested', 'retired']);
  });
});
