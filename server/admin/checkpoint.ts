import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CheckpointView } from '../proofs/checkpoint.js';
import { databaseUrl, environment } from './config.js';
import { CliError, EXIT, errorMessage, type ExitCode } from './errors.js';
import { Output } from './output.js';

type CheckpointOptions = { json?: boolean; out?: string };

export function registerCheckpoint(program: Command): void {
  program
    .command('checkpoint')
    .description('make a signed checkpoint of the log now, as the worker does every CHECKPOINT_INTERVAL_MS, and print it (PostgreSQL: DATABASE_URL; LEDGER_SIGNING_KEY)')
    .option('--out <file>', 'also save the checkpoint (JSON with its jws) to this file, for verify --checkpoint later')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
A checkpoint is the ledger's signed statement {size, root, cursor, issuedAt}:
the RFC 6962 Merkle root of the hashes of the first <size> events of the feed,
in its (transaction, position) order, up to the feed cursor <cursor>. It
covers settled events only (of finished transactions) and carries on from the
latest checkpoint. When nothing settled since then, or another process is
making one right now, it prints the latest instead.

Exit code: 0 made (or nothing new), 2 usage/connection error or no signing key.`,
    )
    .action(async (opts: CheckpointOptions) => {
      process.exitCode = await runCheckpoint(opts, new Output(Boolean(opts.json)));
    });
}

const describe = (c: CheckpointView) => [
  `  size      ${c.size} events`,
  `  root      ${c.root}`,
  `  cursor    ${c.cursor}`,
  `  issuedAt  ${c.issuedAt}`,
  `  kid       ${c.kid}`,
  `  jws       ${c.jws}`,
];

async function runCheckpoint(opts: CheckpointOptions, out: Output): Promise<ExitCode> {
  const url = databaseUrl();
  const env = environment();
  const { proofSettingsFromEnv } = await import('../proofs/signing-key.js');
  const proofs = await proofSettingsFromEnv(env, (m) => out.warn(m)).catch((err: unknown) => {
    throw new CliError(errorMessage(err));
  });
  const [{ withDatabase }, { makeCheckpoint }] = await Promise.all([import('./lazy.js'), import('../proofs/checkpoint-maker.js')]);
  const outcome = await withDatabase(url, (em) => makeCheckpoint(em, proofs));
  const checkpoint = outcome.made ? outcome.checkpoint : outcome.latest;
  if (opts.out && checkpoint) await writeFile(opts.out, `${JSON.stringify(checkpoint, null, 2)}\n`);
  out.result({ ok: true, made: outcome.made, ...(outcome.made ? {} : { reason: outcome.reason }), checkpoint }, () => {
    const saved = opts.out && checkpoint ? [`saved to ${opts.out}`] : [];
    if (outcome.made) return [`checkpoint made: the first ${outcome.checkpoint.size} events of the feed`, ...describe(outcome.checkpoint), ...saved];
    const why = outcome.reason === 'busy' ? 'another process is making a checkpoint right now' : 'no event has settled since the latest checkpoint';
    return checkpoint ? [`no new checkpoint: ${why}; the latest:`, ...describe(checkpoint), ...saved] : [`no checkpoint: ${why}, and the log has no settled event yet`];
  });
  return EXIT.ok;
}
