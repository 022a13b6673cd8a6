import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Inputs of a bundle of client/index.ts, as paths relative to the repo root. */
async function bundledInputs(platform: 'node' | 'browser' = 'node'): Promise<string[]> {
  const result = await build({
    absWorkingDir: repoRoot,
    entryPoints: ['client/index.ts'],
    bundle: true,
    platform,
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
    // The offline verifiers, and jose (the one package admitted for them).
    expect(inputs).toContain('client/verify-certificate.ts');
    expect(packages).toContain('jose');
    expect([...packages].filter((p) => !['@trpc/client', '@trpc/server', 'jose'].includes(p))).toEqual([]);

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

  it('bundles for browsers too: the verifiers need no Node built-in', async () => {
    const inputs = await bundledInputs('browser');
    expect(inputs).toContain('client/verify-proofs.ts');
    expect(inputs.filter((i) => i.startsWith('node:') || i.startsWith('server/'))).toEqual([]);
  });
});
