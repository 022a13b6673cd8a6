/**
 * `npm run admin -- <command>`: the ledger's internal admin script.
 * One module per command; run `npm run admin -- --help` for the list.
 */
import { Command, CommanderError } from 'commander';
import { DEFAULT_LEDGER_URL, ENV_DEFAULTS } from './config.js';
import { CliError, EXIT, errorMessage } from './errors.js';
import { registerCertificate } from './certificate.js';
import { registerCheckpoint } from './checkpoint.js';
import { registerExport } from './export.js';
import { registerImport } from './import/command.js';
import { registerKeys } from './keys.js';
import { Output } from './output.js';
import { registerQueue } from './queue.js';
import { registerRebuildProjections } from './rebuild-projections.js';
import { registerVerify } from './verify.js';

const program = new Command('admin')
  .description('Carbon-credit ledger admin script')
  .option('--url <url>', `ledger API base URL (env LEDGER_URL, default ${DEFAULT_LEDGER_URL})`)
  .option('--api-key <key>', 'admin API key (env LEDGER_API_KEY, then ADMIN_API_KEY)')
  .showHelpAfterError('(add --help for usage)')
  .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
  .addHelpText(
    'after',
    `
Configuration (environment):
  LEDGER_URL, LEDGER_API_KEY (or ADMIN_API_KEY)   import, keys: the API
  DATABASE_URL (the app's role, ledger_app)       verify, rebuild-projections, export, checkpoint, queue reconcile
  LEDGER_SIGNING_KEY, LEDGER_PREVIOUS_PUBLIC_KEYS checkpoint (signs); verify (checks signatures, unless --jwks)
  REDIS_URL, QUEUE_PREFIX (default '${ENV_DEFAULTS.QUEUE_PREFIX}')      queue
  DB_LOCK_TIMEOUT_MS, DB_STATEMENT_TIMEOUT_MS,
  RETIREMENT_MAX_ATTEMPTS                         as for the worker

Every command takes --help, and --json for machine-readable output (on stdout).

Exit codes:
  0    success
  1    the command ran and found failures (rejected import rows, ledger
       inconsistencies, failed jobs, keys or jobs not found)
  2    usage or configuration error, or the API/PostgreSQL/Redis could not be
       reached or refused the key
  130  interrupted (an interrupted import resumes when run again)`,
  );

registerImport(program);
registerVerify(program);
registerRebuildProjections(program);
registerQueue(program);
registerKeys(program);
registerExport(program);
registerCheckpoint(program);
registerCertificate(program);

// Commander's own errors (unknown option, missing argument) are usage errors: exit 2; --help exits 0.
const exitOverride = (err: CommanderError) => {
  throw err;
};
const applyExitOverride = (cmd: Command) => {
  cmd.exitOverride(exitOverride);
  cmd.commands.forEach(applyExitOverride);
};
applyExitOverride(program);

const wantsJson = process.argv.includes('--json');
// `export` without --out streams events on stdout: its errors, like its summary, go to stderr.
const resultStream = process.argv.includes('export') && !process.argv.some((a) => a === '--out' || a.startsWith('--out=')) ? process.stderr : process.stdout;

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version output end here with code 0; commander already printed usage errors.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err.exitCode !== 0 && wantsJson) resultStream.write(`${JSON.stringify({ ok: false, error: err.message, exitCode: EXIT.usage }, null, 2)}\n`);
  } else if (err instanceof CliError) {
    new Output(wantsJson, resultStream).error(err.message, err.exitCode);
    process.exitCode = err.exitCode;
  } else {
    new Output(wantsJson, resultStream).error(`unexpected failure: ${errorMessage(err)}`, EXIT.usage);
    if (process.env.DEBUG) console.error(err);
    process.exitCode = EXIT.usage;
  }
}

// Connections are closed by now, but a client library may still hold a timer
// (ioredis keeps one for ~2 s after a refused connection): flush and leave.
const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit();
