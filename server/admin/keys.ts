import type { Command } from 'commander';
import { BOOTSTRAP_ADMIN_ID } from '../auth/api-keys.js';
import { ROLES, type Role } from '../auth/roles.js';
import { adminClient, apiFailure } from './api.js';
import { apiConfig, type GlobalOptions } from './config.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import { Output, table } from './output.js';

type JsonOption = { json?: boolean };

const API_NOTE = '\nTalks to the API (--url / LEDGER_URL) with an admin key (--api-key / LEDGER_API_KEY / ADMIN_API_KEY).';

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('API keys: create, list, revoke (through the API)').addHelpText('after', API_NOTE);

  keys
    .command('create')
    .description('create an API key; the key itself is printed this once and never again')
    .requiredOption('--role <role>', `the key's role: ${ROLES.join(', ')}`, (value: string): Role => {
      if (!(ROLES as readonly string[]).includes(value)) throw new CliError(`--role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(value)}`);
      return value as Role;
    })
    .requiredOption('--name <name>', 'who or what holds the key, e.g. "registry sync job"')
    .option('--json', 'print the key and its record as JSON')
    .addHelpText('after', `${API_NOTE}\nExit code: 0 created, 2 usage/connection error.`)
    .action(async (opts: JsonOption & { role: Role; name: string }, cmd: Command) => {
      const cfg = apiConfig(cmd.optsWithGlobals<GlobalOptions>());
      const out = new Output(Boolean(opts.json));
      const { key, apiKey } = await adminClient(cfg)
        .keys.create.mutate({ role: opts.role, name: opts.name })
        .catch((err: unknown) => {
          throw apiFailure(err, cfg);
        });
      out.result({ ok: true, key, apiKey }, () => [
        `created ${apiKey.id} (${apiKey.role}, "${apiKey.name}")`,
        `key: ${key}`,
        'Store it now: only its hash is kept, it cannot be shown again.',
      ]);
      process.exitCode = EXIT.ok;
    });

  keys
    .command('list')
    .description('list API keys (revoked ones included unless --active)')
    .option('--active', 'only keys that are not revoked')
    .option('--json', 'print the keys as JSON')
    .addHelpText('after', `${API_NOTE}\nExit code: 0 listed, 2 usage/connection error.`)
    .action(async (opts: JsonOption & { active?: boolean }, cmd: Command) => {
      const cfg = apiConfig(cmd.optsWithGlobals<GlobalOptions>());
      const out = new Output(Boolean(opts.json));
      const { keys: list } = await adminClient(cfg)
        .keys.list.query({ includeRevoked: !opts.active })
        .catch((err: unknown) => {
          throw apiFailure(err, cfg);
        });
      out.result({ ok: true, keys: list }, () =>
        list.length === 0
          ? ['no API keys (the bootstrap ADMIN_API_KEY is not stored, so it is not listed)']
          : table([
              ['id', 'role', 'name', 'created', 'created by', 'revoked'],
              ...list.map((k) => [k.id, k.role, k.name, k.createdAt, k.createdBy, k.revokedAt ?? '-']),
            ]),
      );
      process.exitCode = EXIT.ok;
    });

  keys
    .command('revoke')
    .description('revoke an API key: it is refused from the next request on (revoking twice keeps the first time)')
    .argument('<id>', `the key ID, key_ followed by 16 hex digits (see \`keys list\`), or ${BOOTSTRAP_ADMIN_ID} to retire ADMIN_API_KEY`)
    .option('--json', 'print the revoked key as JSON')
    .addHelpText('after', `${API_NOTE}\nExit code: 0 revoked, 1 no such key, 2 usage/connection error.`)
    .action(async (id: string, opts: JsonOption, cmd: Command) => {
      process.exitCode = await revoke(id, cmd, new Output(Boolean(opts.json)));
    });

  keys
    .command('audit')
    .description('who created and revoked which key, and when; oldest first')
    .option('--after <cursor>', 'start after this entry (the nextCursor a previous page printed)', '0')
    .option('--limit <n>', 'entries per page (1-500)', (value: string) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 500) throw new CliError(`--limit must be a whole number from 1 to 500, got ${JSON.stringify(value)}`);
      return n;
    }, 100)
    .option('--json', 'print the entries as JSON')
    .addHelpText('after', `${API_NOTE}\nExit code: 0 listed, 2 usage/connection error.`)
    .action(async (opts: JsonOption & { after: string; limit: number }, cmd: Command) => {
      if (!/^\d{1,19}$/.test(opts.after)) throw new CliError(`--after must be a nextCursor printed by an earlier page, got ${JSON.stringify(opts.after)}`);
      const cfg = apiConfig(cmd.optsWithGlobals<GlobalOptions>());
      const out = new Output(Boolean(opts.json));
      const { entries, nextCursor } = await adminClient(cfg)
        .keys.audit.query({ cursor: opts.after, limit: opts.limit })
        .catch((err: unknown) => {
          throw apiFailure(err, cfg);
        });
      out.result({ ok: true, entries, nextCursor }, () => [
        ...(entries.length === 0
          ? ['no key changes recorded']
          : table([['at', 'action', 'key', 'role', 'name', 'by'], ...entries.map((e) => [e.at, e.action, e.keyId, e.keyRole, e.keyName, e.actor])])),
        ...(nextCursor ? [`more: keys audit --after ${nextCursor}`] : []),
      ]);
      process.exitCode = EXIT.ok;
    });
}

async function revoke(id: string, cmd: Command, out: Output): Promise<ExitCode> {
  if (id !== BOOTSTRAP_ADMIN_ID && !/^key_[0-9a-f]{16}$/.test(id)) {
    throw new CliError(`${JSON.stringify(id)} is not a key ID (key_ followed by 16 hex digits, or ${BOOTSTRAP_ADMIN_ID})`);
  }
  const cfg = apiConfig(cmd.optsWithGlobals<GlobalOptions>());
  const { apiKey } = await adminClient(cfg)
    .keys.revoke.mutate({ id })
    .catch((err: unknown) => {
      throw apiFailure(err, cfg);
    });
  out.result({ ok: true, apiKey }, () => [`revoked ${apiKey.id} (${apiKey.role}, "${apiKey.name}") at ${apiKey.revokedAt ?? '?'}`]);
  return EXIT.ok;
}
