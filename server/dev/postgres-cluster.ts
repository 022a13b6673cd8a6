/**
 * The pieces of a local PostgreSQL cluster: the OS user it runs as, its
 * folders, its postmaster.pid, and the client tools that talk to it.
 */
import { chmod, chown, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ledgerDatabaseOwnershipSql, ledgerRolesSql, LEDGER_DATABASE, OWNER_ROLE, sqlIdent, sqlLiteral, type LedgerPasswords } from './ledger-roles.js';
import { serviceUser, type ServiceUser } from './os-users.js';
import { childEnv, isAlive, processName, run } from './processes.js';
import { LOOPBACK } from './service-options.js';

/**
 * postgres refuses to run as root, so as root its processes run as the
 * `postgres` OS user. We set uid/gid on spawn rather than wrapping in
 * `runuser` so the pid we hold is the postmaster itself and signals reach it
 * directly.
 */
export function pgUser(): Promise<ServiceUser> {
  return serviceUser('postgres', 'Install it with: apt-get install -y postgresql');
}

export interface PgLayout {
  dataDir: string;
  cluster: string;
  /** 0700, owned by the server's OS user: only it (and root) can reach the socket, where the superuser logs in. */
  socketDir: string;
  portFile: string;
  logFile: string;
}

export function pgLayout(dataDir: string): PgLayout {
  const root = path.resolve(dataDir);
  return {
    dataDir: root,
    cluster: path.join(root, 'cluster'),
    socketDir: path.join(root, 'socket'),
    portFile: path.join(root, 'port'),
    logFile: path.join(root, 'postgres.log'),
  };
}

/** Peer authentication maps the server's OS user to the superuser through this pg_ident.conf map (unless it is named postgres). */
const IDENT_MAP = 'launcher';

/**
 * Writes pg_hba.conf (and pg_ident.conf) on every start, so a cluster made by
 * an older version with `trust` is locked down too: the superuser only over
 * the Unix socket as the server's own OS user (peer), everyone only over
 * 127.0.0.1 with a password (scram-sha-256); nothing else.
 */
export async function writeAuthConfig(layout: PgLayout, user: ServiceUser): Promise<void> {
  const mapped = user.name !== 'postgres';
  const hba = [
    '# Written by server/dev/postgres-server.ts on every start: edits here are overwritten.',
    '# The superuser only over the Unix socket, as the OS user the server runs as; everyone else',
    '# only over 127.0.0.1, with a password.',
    `local   all   postgres                 peer${mapped ? ` map=${IDENT_MAP}` : ''}`,
    'host    all   all        127.0.0.1/32  scram-sha-256',
    '',
  ].join('\n');
  const ident = [
    '# Written by server/dev/postgres-server.ts on every start: edits here are overwritten.',
    ...(mapped ? [`${IDENT_MAP}   ${user.name}   postgres`] : []),
    '',
  ].join('\n');
  for (const [name, text] of [
    ['pg_hba.conf', hba],
    ['pg_ident.conf', ident],
  ] as const) {
    const file = path.join(layout.cluster, name);
    await writeFile(file, text, { mode: 0o600 });
    await chmod(file, 0o600);
    if (user.uid !== undefined && user.gid !== undefined) await chown(file, user.uid, user.gid);
  }
}

/**
 * initdb with peer authentication on the socket, passwords over TCP, and this
 * superuser password (through a --pwfile only the server's user can read,
 * removed right after).
 */
export async function initCluster(bin: string, layout: PgLayout, user: ServiceUser, superuserPassword: string, ephemeral: boolean): Promise<void> {
  const pwfile = path.join(layout.socketDir, 'initdb-pwfile');
  await writeFile(pwfile, `${superuserPassword}\n`, { mode: 0o600 });
  try {
    if (user.uid !== undefined && user.gid !== undefined) await chown(pwfile, user.uid, user.gid);
    await run(
      path.join(bin, 'initdb'),
      [
        '-D', layout.cluster,
        '-U', 'postgres',
        '--auth-host=scram-sha-256',
        '--auth-local=peer',
        `--pwfile=${pwfile}`,
        '-E', 'UTF8',
        // C collation: identical ordering on every machine, and no dependence on generated locales.
        '--locale=C',
        ...(ephemeral ? ['--no-sync'] : []),
      ],
      { env: childEnv(), cwd: layout.cluster, uid: user.uid, gid: user.gid },
    );
  } finally {
    await rm(pwfile, { force: true });
  }
}

/** pid and port of a live postmaster on this cluster, or null (removing a stale lock file). */
export async function runningPostmaster(cluster: string): Promise<{ pid: number; port: number } | null> {
  const pidFile = path.join(cluster, 'postmaster.pid');
  const text = await readFile(pidFile, 'utf8').catch(() => null);
  if (text === null) return null;
  const lines = text.split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const name = await processName(pid);
  if (isAlive(pid) && (name === null || name.startsWith('postgres') || name.startsWith('postmaster'))) {
    return Number.isInteger(port) ? { pid, port } : null;
  }
  // postgres itself refuses to start while the recorded pid is alive, even if that pid now belongs to someone else.
  await rm(pidFile, { force: true });
  return null;
}

/** Whether postmaster.pid says the postmaster with this pid is ready for connections. */
export async function postmasterReady(cluster: string, pid: number | undefined): Promise<boolean> {
  const lines = (await readFile(path.join(cluster, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  return pid !== undefined && Number.parseInt(lines[0] ?? '', 10) === pid && lines[7]?.trim() === 'ready';
}

export async function pgIsReady(bin: string, port: number): Promise<boolean> {
  try {
    await run(path.join(bin, 'pg_isready'), ['-q', '-h', LOOPBACK, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-t', '2'], {
      env: childEnv(),
      timeoutMs: 5_000,
    });
    return true;
  } catch {
    return false;
  }
}

/** How the launcher reaches the server as the superuser: psql over the Unix socket, as the server's OS user (peer). */
export interface PgSuperuser {
  bin: string;
  port: number;
  socketDir: string;
  user: ServiceUser;
}

/** Runs SQL (from stdin, so no secret is ever in argv) as the superuser; returns psql's unaligned, tuples-only output. */
export async function superuserSql(su: PgSuperuser, db: string, sql: string): Promise<string> {
  const { stdout } = await run(
    path.join(su.bin, 'psql'),
    ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', su.socketDir, '-p', String(su.port), '-U', 'postgres', '-d', db, '-f', '-'],
    { env: childEnv(), timeoutMs: 30_000, input: sql, uid: su.user.uid, gid: su.user.gid, cwd: su.socketDir },
  );
  return stdout.trim();
}

/**
 * Sets the superuser's password, creates or updates ledger_owner and
 * ledger_app with theirs, and makes ledger_owner own database `ledger` and
 * everything in it. Idempotent; run on every start.
 */
export async function ensureLedgerRolesAndDatabase(su: PgSuperuser, passwords: LedgerPasswords & { superuser: string }): Promise<void> {
  await superuserSql(su, 'postgres', [`alter role postgres password ${sqlLiteral(passwords.superuser)};`, ledgerRolesSql(passwords)].join('\n'));
  const exists = await superuserSql(su, 'postgres', `select 1 from pg_database where datname = '${LEDGER_DATABASE}'`);
  if (exists !== '1') {
    try {
      await superuserSql(su, 'postgres', `create database ${sqlIdent(LEDGER_DATABASE)} owner ${sqlIdent(OWNER_ROLE)}`);
    } catch (err) {
      // Two processes starting on the same folder can race here.
      if (!String((err as Error).message).includes('already exists')) throw err;
    }
  }
  // A cluster made by an older version has `ledger`, its tables and functions owned by postgres (dev data only).
  await superuserSql(su, LEDGER_DATABASE, ledgerDatabaseOwnershipSql(LEDGER_DATABASE));
}
