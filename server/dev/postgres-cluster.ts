/**
 * The pieces of a local PostgreSQL cluster: the OS user it runs as, its
 * folders, its postmaster.pid, and the client tools that talk to it.
 */
import { chown, mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { isRoot } from './binaries.js';
import { childEnv, isAlive, processName, run } from './processes.js';
import { LOOPBACK } from './service-options.js';

export interface PgUser {
  uid?: number;
  gid?: number;
}

/**
 * postgres refuses to run as root, so as root its processes run as the
 * `postgres` OS user. We set uid/gid on spawn rather than wrapping in
 * `runuser` so the pid we hold is the postmaster itself and signals reach it
 * directly.
 */
export async function pgUser(): Promise<PgUser> {
  if (!isRoot) return {};
  try {
    const uid = Number.parseInt((await run('id', ['-u', 'postgres'])).stdout, 10);
    const gid = Number.parseInt((await run('id', ['-g', 'postgres'])).stdout, 10);
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid };
  } catch {
    // Fall through to the error below.
  }
  throw new Error("Running as root but there is no 'postgres' OS user to run PostgreSQL as. Install it with: apt-get install -y postgresql");
}

/** postgres must be able to reach its folders; a root-only ancestor (mkdtemp makes 0700) blocks it. */
export async function assertReachable(dir: string, user: PgUser): Promise<void> {
  if (user.uid === undefined) return;
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const s = await stat(d);
    const bit = s.uid === user.uid ? 0o100 : s.gid === user.gid ? 0o010 : 0o001;
    if (!(s.mode & bit)) {
      throw new Error(`The postgres OS user cannot enter ${d} (mode ${(s.mode & 0o777).toString(8)}); make it traversable, e.g. chmod o+x ${d}`);
    }
    if (d === path.dirname(d)) return;
  }
}

export async function ensureOwnedDir(dir: string, user: PgUser, mode: number): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  if (user.uid !== undefined && user.gid !== undefined) await chown(dir, user.uid, user.gid);
}

export interface PgLayout {
  dataDir: string;
  cluster: string;
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

async function psql(bin: string, port: number, sql: string): Promise<string> {
  const { stdout } = await run(
    path.join(bin, 'psql'),
    ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', LOOPBACK, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-c', sql],
    { env: childEnv(), timeoutMs: 30_000 },
  );
  return stdout.trim();
}

export async function ensureLedgerDatabase(bin: string, port: number): Promise<void> {
  if ((await psql(bin, port, "SELECT 1 FROM pg_database WHERE datname = 'ledger'")) === '1') return;
  try {
    await psql(bin, port, 'CREATE DATABASE ledger');
  } catch (err) {
    // Two processes starting on the same folder can race here.
    if (!String((err as Error).message).includes('already exists')) throw err;
  }
}
