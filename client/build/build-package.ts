/**
 * Builds the published client into client/dist: `npm pack` in client/ runs it
 * (prepack), as does `npm run build:client` at the top.
 *
 *   dist/index.js    the client's code in one ES module; imports only @trpc/client
 *   dist/index.d.ts  its declarations in one file (rollup-plugin-dts), with the
 *                    router's types as the evaluated contract of router-contract.ts
 *
 * It fails when anything of the server, or any package the client does not
 * declare, would end up in either file.
 */
import { build } from 'esbuild';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { rollup } from 'rollup';
import { dts } from 'rollup-plugin-dts';
import ts from 'typescript';
import { checkContract } from './contract-check.js';
import { clientSources, createClientProgram, repoRoot } from './program.js';
import { routerContract } from './router-contract.js';

const clientDir = path.join(repoRoot, 'client');
const dist = path.join(clientDir, 'dist');
const staging = path.join(dist, '.types');
const entry = path.join(clientDir, 'index.ts');
const serverTypes = path.join(clientDir, 'server-types.ts');

// stderr: `npm pack --json` prints its JSON on stdout, after this script's output.
const log = (msg: string) => console.error(`[client build] ${msg}`);

async function main(): Promise<void> {
  const began = Date.now();
  const dependencies = await declaredDependencies();
  await rm(dist, { recursive: true, force: true });

  const program = createClientProgram(staging);
  failOnErrors(program);
  const contract = routerContract(program, serverTypes);
  checkContract(program, clientDir, contract);
  log('router contract generated and identical to the server types');

  await emitDeclarations(program, contract);
  await bundleDeclarations(dependencies);
  await rm(staging, { recursive: true, force: true });
  await bundleCode(dependencies);
  log(`dist/index.js and dist/index.d.ts in ${((Date.now() - began) / 1000).toFixed(1)} s`);
}

function failOnErrors(program: ts.Program): void {
  const diagnostics = [...program.getOptionsDiagnostics(), ...clientSources(program).flatMap((sf) => ts.getPreEmitDiagnostics(program, sf))];
  if (diagnostics.length === 0) return;
  throw new Error(ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => repoRoot, getNewLine: () => '\n' }));
}

/** Each client file's .d.ts into the staging folder, server-types.d.ts replaced by the contract. */
async function emitDeclarations(program: ts.Program, contract: string): Promise<void> {
  const files = new Map<string, string>();
  for (const sf of clientSources(program)) {
    const result = program.emit(sf, (name, text) => files.set(name, text), undefined, true);
    if (result.emitSkipped) throw new Error(`declarations of ${sf.fileName} were not emitted`);
  }
  const contractFile = path.join(staging, 'client', 'server-types.d.ts');
  if (!files.has(contractFile)) throw new Error(`no ${contractFile} to replace with the contract`);
  files.set(contractFile, contract);
  await mkdir(path.dirname(contractFile), { recursive: true });
  await Promise.all([...files].map(([name, text]) => writeFile(name, text)));
}

async function bundleDeclarations(dependencies: ReadonlySet<string>): Promise<void> {
  const bundle = await rollup({
    input: path.join(staging, 'client', 'index.d.ts'),
    plugins: [dts({ tsconfig: path.join(repoRoot, 'tsconfig.json') })],
    external: [...dependencies],
    onwarn(warning) {
      // An unresolved import would be left for the user's compiler to fail on.
      throw new Error(`rollup-plugin-dts: ${warning.message}`);
    },
  });
  const output = path.join(dist, 'index.d.ts');
  await bundle.write({ file: output, format: 'es' });
  await bundle.close();
  assertImports('dist/index.d.ts', await readFile(output, 'utf8'), dependencies);
}

async function bundleCode(dependencies: ReadonlySet<string>): Promise<void> {
  const output = path.join(dist, 'index.js');
  const result = await build({
    absWorkingDir: repoRoot,
    entryPoints: [entry],
    outfile: output,
    bundle: true,
    format: 'esm',
    // It runs in browsers as well as in Node: no node: built-ins.
    platform: 'neutral',
    target: 'es2022',
    external: [...dependencies],
    metafile: true,
    logLevel: 'warning',
  });
  const foreign = Object.keys(result.metafile.inputs).filter((input) => !path.resolve(repoRoot, input).startsWith(clientDir));
  if (foreign.length > 0) throw new Error(`dist/index.js would hold files from outside client/: ${foreign.join(', ')}`);
  assertImports('dist/index.js', await readFile(output, 'utf8'), dependencies);
}

/** Every module the output imports must be one the package declares. */
function assertImports(file: string, text: string, dependencies: ReadonlySet<string>): void {
  const specifiers = [...text.matchAll(/\bfrom\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? m[2] ?? m[3]);
  const undeclared = specifiers.filter((s): s is string => s !== undefined && !dependencies.has(s));
  if (undeclared.length > 0) throw new Error(`${file} imports ${[...new Set(undeclared)].join(', ')}, which client/package.json does not declare`);
  if (/^\/\/\/\s*<reference/m.test(text)) throw new Error(`${file} has a triple-slash reference, which the package does not provide`);
}

/**
 * The client's dependencies, checked against the versions the server is
 * tested with: the package must install the same tRPC the tests ran.
 */
async function declaredDependencies(): Promise<Set<string>> {
  type Manifest = { dependencies?: Record<string, string> };
  const client = JSON.parse(await readFile(path.join(clientDir, 'package.json'), 'utf8')) as Manifest;
  const root = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as Manifest;
  const deps = Object.entries(client.dependencies ?? {});
  const drifted = deps.filter(([name, version]) => root.dependencies?.[name] !== version);
  if (drifted.length > 0) {
    throw new Error(`client/package.json must pin the versions the server uses: ${drifted.map(([n, v]) => `${n} ${v} (server: ${root.dependencies?.[n] ?? 'none'})`).join(', ')}`);
  }
  return new Set(deps.map(([name]) => name));
}

try {
  await main();
} catch (err) {
  console.error(`[client build] FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
