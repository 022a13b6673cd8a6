/**
 * How the tests start the ledger's processes: the admin script, the API and
 * the worker, each as its own OS process from the repository's root.
 *
 * Under tsx every start transpiles and loads the whole server anew (about 2 s
 * of CPU on the reference machine, and the CLI tests start hundreds), so the
 * test run builds each entry point once into one ES module with esbuild
 * (global-setup.ts), its packages left to node_modules, and starts that with
 * plain node: the same source, compiled once. The bundles sit two folders
 * below the root, as the sources do, so paths the code derives from its own
 * location (server/proofs/signing-key.ts) come out the same. Outside a test
 * run (no bundles given) the source runs under tsx, as `npm run …` does.
 */
import { rm, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export const ENTRY_SOURCES = {
  admin: 'server/admin/main.ts',
  api: 'server/start-api.ts',
  worker: 'worker/start-worker.ts',
} as const;
export type Entry = keyof typeof ENTRY_SOURCES;
export type EntryBundles = Record<Entry, string>;

/** Builds the bundles into .data/test-bundles/<pid>-<entry>.mjs; returns their paths and how to remove them. */
export async function buildEntryBundles(): Promise<{ bundles: EntryBundles; remove(): Promise<void> }> {
  const dir = path.join(repoRoot, '.data', 'test-bundles');
  await mkdir(dir, { recursive: true });
  const bundles = Object.fromEntries(Object.keys(ENTRY_SOURCES).map((e) => [e, path.join(dir, `${process.pid}-${e}.mjs`)])) as EntryBundles;
  await Promise.all(
    (Object.keys(ENTRY_SOURCES) as Entry[]).map((entry) =>
      build({
        entryPoints: [path.join(repoRoot, ENTRY_SOURCES[entry])],
        outfile: bundles[entry],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        sourcemap: 'inline',
        logLevel: 'warning',
      }),
    ),
  );
  return { bundles, remove: () => Promise.all(Object.values(bundles).map((f) => rm(f, { force: true }))).then(() => undefined) };
}

/** The node arguments that start `entry`: its bundle when the test run built one, else its source under tsx. */
export function entryArgs(entry: Entry, bundles: EntryBundles | undefined): string[] {
  const bundle = bundles?.[entry];
  return bundle ? ['--enable-source-maps', bundle] : ['--import', 'tsx', ENTRY_SOURCES[entry]];
}
