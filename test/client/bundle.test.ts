import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Inputs of a bundle of client/index.ts, as paths relative to the repo root. */
async function bundledInputs(): Promise<string[]> {
  const result = await build({
    absWorkingDir: repoRoot,
    entryPoints: ['client/index.ts'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  expect(result.errors).toEqual([]);
  return Object.keys(result.metafile.inputs);
}

const packageOf = (input: string): string | null => {
  const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m?.[1] ?? null;
};

describe('client bundle', () => {
  it('holds the client and tRPC client, and nothing of the server, its database driver, its queue library or express', async () => {
    const inputs = await bundledInputs();

    // Not vacuous: our client code and the tRPC client really are in it.
    expect(inputs).toContain('client/index.ts');
    expect(inputs).toContain('client/ledger-client.ts');
    expect(inputs).toContain('client/errors.ts');
    const packages = new Set(inputs.map(packageOf).filter((p): p is string => p !== null));
    expect(packages).toContain('@trpc/client');

    expect(inputs.filter((i) => i.startsWith('server/') || i.startsWith('worker/'))).toEqual([]);
    const forbidden = (p: string) =>
      p === 'pg' ||
      p.startsWith('pg-') ||
      p.startsWith('@mikro-orm/') ||
      p === 'bullmq' ||
      p === 'ioredis' ||
      p.startsWith('@ioredis/') ||
      p === 'express';
    expect([...packages].filter(forbidden)).toEqual([]);
  });
});
