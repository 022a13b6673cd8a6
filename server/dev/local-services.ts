/**
 * Launches real PostgreSQL and Redis servers for development and tests, using
 * only node built-ins so it can run before any dependency is configured.
 * Every server binds to 127.0.0.1 only.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, closeSync, existsSync, openSync } from 'node:fs';
import { access, chown, mkdir, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

export type Log = (msg: string) => void;

export interface PgHandle {
  /** postgres://postgres@127.0.0.1:PORT/ledger */
  url: string;
  port: number;
  /** Fast shutdown; resolves once the server process has exited. */
  stop(): Promise<void>;
  /** Starts again on the same data folder and port; a no-op while running. */
  start(): Promise<void>;
  adminUrl(db: string): string;
}

export interface RedisHandle {
  /** redis://127.0.0.1:PORT */
  url: string;
  port: number;
  /** SHUTDOWN NOSAVE (SIGTERM if that fails); resolves once the process has exited. */
  stop(): Promise<void>;
  /** Starts again with the same port and folder; a no-op while running. */
  start(): Promise<void>;
}

export interface ServiceOptions {
  dataDir: string;
  port?: number;
  log?: Log;
  /** Let the server outlive this Node process (otherwise it is stopped on exit). */
  detach?: boolean;
  /** How long to wait for the server to accept connections. Default 30 s. */
  readyTimeoutMs?: number;
}

export interface PgOptions extends ServiceOptions {
  /**
   * Throwaway cluster: trade crash safety for speed (fsync off, more
   * connections). Only safe when losing the data to an OS crash is fine.
   */
  ephemeral?: boolean;
}

export type ServiceName = 'postgres' | 'redis';

const LOOPBACK = '127.0.0.1';
const DEFAULT_READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 60_000;
// A Unix socket path longer than this fails with an obscure error inside postgres.
const MAX_SOCKET_PATH = 100;

// ---------------------------------------------------------------------------
// Binaries

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** The bin folder of the highest PostgreSQL version installed, or null. */
export async function findPgBinDir(): Promise<string | null> {
  const base = '/usr/lib/postgresql';
  const versions = await readdir(base).catch(() => [] as string[]);
  const sorted = versions
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  for (const v of sorted) {
    const bin = path.join(base, v, 'bin');
    if (await isExecutable(path.join(bin, 'postgres'))) return bin;
  }
  // Non-Debian layouts put the server binaries on PATH.
  const initdb = await whichBinary('initdb');
  return initdb && (await isExecutable(path.join(path.dirname(initdb), 'postgres'))) ? path.dirname(initdb) : null;
}

async function whichBinary(name: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return null;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

const APT_PACKAGE: Record<ServiceName, string> = { postgres: 'postgresql', redis: 'redis-server' };

async function isInstalled(which: ServiceName): Promise<boolean> {
  return which === 'postgres' ? (await findPgBinDir()) !== null : (await whichBinary('redis-server')) !== null;
}

/**
 * Makes sure the server binaries exist. As root with apt-get it installs the
 * missing Debian packages; otherwise it throws naming what to install.
 */
export async function ensureBinaries(which: ServiceName[], log: Log = console.log): Promise<void> {
  const missing: ServiceName[] = [];
  for (const name of new Set(which)) if (!(await isInstalled(name))) missing.push(name);
  if (missing.length === 0) return;

  const packages = missing.map((m) => APT_PACKAGE[m]);
  const aptGet = await whichBinary('apt-get');
  if (!isRoot || !aptGet) {
    throw new Error(
      `Missing ${missing.join(' and ')} server binaries. Install them with: ` +
        `sudo apt-get install -y ${packages.join(' ')}` +
        (aptGet ? '' : ` (Debian package names; elsewhere install PostgreSQL 15+ server and Redis 7 server)`),
    );
  }
  log(`Installing ${packages.join(' ')} with apt-get (missing ${missing.join(', ')})…`);
  await withServiceStartsBlocked(async () => {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // Another process (a parallel test worker) may hold the dpkg lock briefly.
    const lockWait = ['-o', 'DPkg::Lock::Timeout=300'];
    await run(aptGet, [...lockWait, 'update'], { env, inherit: true });
    await run(aptGet, [...lockWait, 'install', '-y', '--no-install-recommends', ...packages], { env, inherit: true });
  });
  for (const name of missing) {
    if (!(await isInstalled(name))) throw new Error(`apt-get installed ${APT_PACKAGE[name]} but its binaries are still not found`);
  }
  log(`Installed ${packages.join(' ')}.`);
}

/**
 * Debian's postinst scripts would start system-wide postgres/redis services on
 * the default ports; we only want the binaries. policy-rc.d exit 101 is the
 * standard way to say "don't start services now".
 */
async function withServiceStartsBlocked(fn: () => Promise<void>): Promise<void> {
  const policy = '/usr/sbin/policy-rc.d';
  if (existsSync(policy)) return fn();
  await writeFile(policy, '#!/bin/sh\n# Temporary: written by server/dev/local-services.ts while installing packages.\nexit 101\n', {
    mode: 0o755,
  });
  try {
    await fn();
  } finally {
    await rm(policy, { force: true });
  }
}

// ---------------------------------------------------------------------------
// Small process and network helpers

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  inherit?: boolean;
  timeoutMs?: number;
}

function run(file: string, args: string[], opts: RunOptions = {}): Promise<{ stdout: string; stderr: string }> {
  if (opts.inherit) {
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', reject);
      child.on('exit', (code, signal) =>
        code === 0 ? resolve({ stdout: '', stderr: '' }) : reject(new Error(`${file} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`)),
      );
    });
  }
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: opts.env, cwd: opts.cwd, uid: opts.uid, gid: opts.gid, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const detail = `${stderr}`.trim() || `${stdout}`.trim() || err.message;
          reject(Object.assign(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${detail}`), { stderr: `${stderr}` }));
        } else {
          resolve({ stdout: `${stdout}`, stderr: `${stderr}` });
        }
      },
    );
  });
}

/** An unused TCP port on 127.0.0.1 (free at the time of asking). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive but owned by another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Guards against a stale pid file whose pid now belongs to another program (common in containers). */
async function processName(pid: number): Promise<string | null> {
  return readFile(`/proc/${pid}/comm`, 'utf8').then(
    (s) => s.trim(),
    () => null,
  );
}

async function readPort(file: string): Promise<number | null> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const port = Number.parseInt(text.trim(), 10);
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : null;
}

/** Lines the server wrote since `fromByte`, for error messages. */
async function logTail(file: string, fromByte = 0, lines = 30): Promise<string> {
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const start = Math.max(fromByte, size - 64 * 1024);
      const buf = Buffer.alloc(size - start);
      await handle.read(buf, 0, buf.length, start);
      const text = buf.toString('utf8').trimEnd();
      return text ? text.split('\n').slice(-lines).join('\n') : '(log is empty)';
    } finally {
      await handle.close();
    }
  } catch {
    return '(no log file)';
  }
}

async function fileSize(file: string): Promise<number> {
  return stat(file).then(
    (s) => s.size,
    () => 0,
  );
}

/**
 * Children we spawned without `detach`; stopped when this process goes away so
 * test runs never leave servers behind. Stopping is asynchronous for the
 * servers themselves, but they finish on their own after we are gone.
 */
const attached = new Map<number, NodeJS.Signals>();
let exitHooksInstalled = false;

function killAttached(): void {
  for (const [pid, signal] of attached) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
  attached.clear();
}

function trackAttached(pid: number, signal: NodeJS.Signals): void {
  attached.set(pid, signal);
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once('exit', killAttached);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      // Someone else owns shutdown (e.g. the server draining requests before it
      // calls stop()); the 'exit' hook still covers us if they just exit.
      if (process.listenerCount(sig) > 0) return;
      killAttached();
      // Keep the default "die on signal" behaviour.
      process.kill(process.pid, sig);
    });
  }
}

interface Spawned {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited: () => boolean;
}

function spawnServer(
  file: string,
  args: string[],
  opts: { logFile: string; detach: boolean; cwd: string; uid?: number; gid?: number; env: NodeJS.ProcessEnv; stopSignal: NodeJS.Signals },
): Spawned {
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env,
      uid: opts.uid,
      gid: opts.gid,
      stdio: ['ignore', fd, fd],
      // Always its own process group: a terminal Ctrl-C must not kill the
      // database under a server that is still draining; we decide when it stops.
      detached: true,
    });
  } finally {
    closeSync(fd);
  }
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      done = true;
      if (child.pid) attached.delete(child.pid);
      resolve();
    });
    child.once('error', () => {
      done = true;
      resolve();
    });
  });
  // A running server must not keep this process alive by itself; the exit hooks stop attached ones.
  child.unref();
  if (!opts.detach && child.pid) trackAttached(child.pid, opts.stopSignal);
  return { child, exited, hasExited: () => done };
}

/** Waits for a process we did not spawn (reused server) to disappear. */
async function waitForPidExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; failed: () => boolean; logFile: string; logFrom: number },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (opts.failed() || Date.now() > deadline) {
      const reason = opts.failed() ? 'exited before accepting connections' : `did not accept connections within ${opts.timeoutMs / 1000}s`;
      throw new Error(`${what} ${reason}. Last lines of ${opts.logFile}:\n${await logTail(opts.logFile, opts.logFrom)}`);
    }
    await sleep(100);
  }
}

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // PG* variables (PGDATA, PGPORT, PGHOST…) would silently redirect the tools.
    if (!k.startsWith('PG')) env[k] = v;
  }
  // English, stable messages: we match on "already exists" and show logs.
  return { ...env, LC_ALL: 'C', LANG: 'C' };
}

// ---------------------------------------------------------------------------
// PostgreSQL

interface PgUser {
  uid?: number;
  gid?: number;
}

/**
 * postgres refuses to run as root, so as root its processes run as the
 * `postgres` OS user. We set uid/gid on spawn rather than wrapping in
 * `runuser` so the pid we hold is the postmaster itself and signals reach it
 * directly.
 */
async function pgUser(): Promise<PgUser> {
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
async function assertReachable(dir: string, user: PgUser): Promise<void> {
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

async function ensureOwnedDir(dir: string, user: PgUser, mode: number): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  if (user.uid !== undefined && user.gid !== undefined) await chown(dir, user.uid, user.gid);
}

interface PgLayout {
  dataDir: string;
  cluster: string;
  socketDir: string;
  portFile: string;
  logFile: string;
}

function pgLayout(dataDir: string): PgLayout {
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
async function runningPostmaster(cluster: string): Promise<{ pid: number; port: number } | null> {
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
async function postmasterReady(cluster: string, pid: number | undefined): Promise<boolean> {
  const lines = (await readFile(path.join(cluster, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  return pid !== undefined && Number.parseInt(lines[0] ?? '', 10) === pid && lines[7]?.trim() === 'ready';
}

async function pgIsReady(bin: string, port: number): Promise<boolean> {
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

async function ensureLedgerDatabase(bin: string, port: number): Promise<void> {
  if ((await psql(bin, port, "SELECT 1 FROM pg_database WHERE datname = 'ledger'")) === '1') return;
  try {
    await psql(bin, port, 'CREATE DATABASE ledger');
  } catch (err) {
    // Two processes starting on the same folder can race here.
    if (!String((err as Error).message).includes('already exists')) throw err;
  }
}

/**
 * Starts (or reuses) a PostgreSQL server whose cluster lives in
 * `<dataDir>/cluster`, creating it on first use, and ensures database `ledger`.
 */
export async function startPostgres(opts: PgOptions): Promise<PgHandle> {
  const log = opts.log ?? (() => {});
  const timeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const bin = await findPgBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found; call ensureBinaries(["postgres"]) or install with: apt-get install -y postgresql');
  const user = await pgUser();
  const layout = pgLayout(opts.dataDir);

  await mkdir(layout.dataDir, { recursive: true });
  await assertReachable(layout.dataDir, user);
  const socketFile = path.join(layout.socketDir, '.s.PGSQL.65535');
  if (socketFile.length > MAX_SOCKET_PATH) {
    throw new Error(`PostgreSQL socket path ${socketFile} is too long for Unix sockets; use a shorter dataDir`);
  }
  await ensureOwnedDir(layout.socketDir, user, 0o700);

  if (!existsSync(path.join(layout.cluster, 'PG_VERSION'))) {
    await ensureOwnedDir(layout.cluster, user, 0o700);
    const began = Date.now();
    await run(
      path.join(bin, 'initdb'),
      [
        '-D', layout.cluster,
        '-U', 'postgres',
        '-A', 'trust',
        '-E', 'UTF8',
        // C collation: identical ordering on every machine, and no dependence on generated locales.
        '--locale=C',
        ...(opts.ephemeral ? ['--no-sync'] : []),
      ],
      { env: childEnv(), cwd: layout.cluster, ...user },
    );
    log(`PostgreSQL cluster initialised in ${layout.cluster} (${Date.now() - began} ms)`);
  }

  let port = opts.port ?? (await readPort(layout.portFile));
  const portWasChosen = port === null;

  let proc: Spawned | null = null;
  let reusedPid: number | null = null;

  const existing = await runningPostmaster(layout.cluster);
  if (existing) {
    const ready = async () => (await postmasterReady(layout.cluster, existing.pid)) && (await pgIsReady(bin, existing.port));
    if (!(await pollReady(ready, timeoutMs))) {
      throw new Error(
        `A PostgreSQL server (pid ${existing.pid}) holds ${layout.cluster} but does not accept connections on port ${existing.port}. ` +
          `Last lines of ${layout.logFile}:\n${await logTail(layout.logFile)}`,
      );
    }
    if (port !== null && port !== existing.port) log(`PostgreSQL already running on ${layout.cluster} with port ${existing.port} (wanted ${port}); reusing it`);
    else log(`Reusing PostgreSQL already running on ${layout.cluster} (pid ${existing.pid}, port ${existing.port})`);
    port = existing.port;
    reusedPid = existing.pid;
  }

  const launch = async (p: number): Promise<void> => {
    const logFrom = await fileSize(layout.logFile);
    const args = ['-D', layout.cluster, '-p', String(p), '-h', LOOPBACK, '-k', layout.socketDir, '-c', 'logging_collector=off'];
    if (opts.ephemeral) {
      args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300');
    }
    const spawned = spawnServer(path.join(bin, 'postgres'), args, {
      logFile: layout.logFile,
      detach: opts.detach ?? false,
      cwd: layout.cluster,
      env: childEnv(),
      ...user,
      // SIGINT is PostgreSQL's "fast shutdown".
      stopSignal: 'SIGINT',
    });
    proc = spawned;
    // Another server already on this port would answer pg_isready too, so the lock file must name our postmaster.
    const ours = async () => (await postmasterReady(layout.cluster, spawned.child.pid)) && (await pgIsReady(bin, p));
    await waitUntil(`PostgreSQL on ${LOOPBACK}:${p}`, ours, {
      timeoutMs,
      failed: spawned.hasExited,
      logFile: layout.logFile,
      logFrom,
    });
  };

  if (port === null) port = await freePort();
  if (!reusedPid) {
    const began = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await launch(port);
        break;
      } catch (err) {
        // A chosen port can be grabbed between freePort() and bind(); only then is picking another one right.
        const taken = /Address already in use|could not create any TCP\/IP sockets/i.test((err as Error).message);
        if (!(portWasChosen && taken && attempt < 3)) throw err;
        port = await freePort();
      }
    }
    log(`PostgreSQL started on ${LOOPBACK}:${port} (${Date.now() - began} ms; log ${layout.logFile})`);
  }
  await writeFile(layout.portFile, `${port}\n`);
  await ensureLedgerDatabase(bin, port);

  const fixedPort = port;
  const adminUrl = (db: string) => `postgres://postgres@${LOOPBACK}:${fixedPort}/${encodeURIComponent(db)}`;
  return {
    url: adminUrl('ledger'),
    port: fixedPort,
    adminUrl,
    async start() {
      if (await runningPostmaster(layout.cluster)) return;
      reusedPid = null;
      await launch(fixedPort);
    },
    async stop() {
      const current = proc;
      if (current && !current.hasExited()) {
        current.child.kill('SIGINT');
        await stopWithin(current, STOP_TIMEOUT_MS, 'SIGQUIT');
        return;
      }
      const running = await runningPostmaster(layout.cluster);
      const pid = running?.pid ?? reusedPid;
      if (pid && isAlive(pid)) {
        process.kill(pid, 'SIGINT');
        if (!(await waitForPidExit(pid, STOP_TIMEOUT_MS))) {
          process.kill(pid, 'SIGQUIT');
          await waitForPidExit(pid, 10_000);
        }
      }
      reusedPid = null;
    },
  };
}

async function pollReady(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/** Resolves true if `done` settles within `ms`; the timer is cleared so it never holds the process open. */
async function settlesWithin(done: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([done.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function stopWithin(proc: Spawned, timeoutMs: number, escalate: NodeJS.Signals): Promise<void> {
  if (await settlesWithin(proc.exited, timeoutMs)) return;
  proc.child.kill(escalate);
  if (await settlesWithin(proc.exited, 10_000)) return;
  proc.child.kill('SIGKILL');
  await proc.exited;
}

// ---------------------------------------------------------------------------
// Redis

export type RespValue = string | number | null | RespValue[];

/**
 * Sends one command over a fresh connection and returns the reply. Enough of
 * RESP2 for PING, CONFIG GET, SET/GET and SHUTDOWN; error replies reject.
 */
export function redisCommand(port: number, args: string[], timeoutMs = 2_000): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LOOPBACK, port });
    let buf = Buffer.alloc(0);
    const finish = (err: Error | null, value?: RespValue) => {
      socket.destroy();
      if (err) reject(err);
      else resolve(value ?? null);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`redis 127.0.0.1:${port} did not answer within ${timeoutMs} ms`)));
    socket.on('error', (err) => finish(err));
    socket.on('connect', () => {
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        const parsed = parseResp(buf, 0);
        if (parsed) finish(null, parsed.value);
      } catch (err) {
        finish(err as Error);
      }
    });
    // SHUTDOWN answers by closing the connection.
    socket.on('end', () => finish(null, null));
  });
}

function parseResp(buf: Buffer, at: number): { value: RespValue; next: number } | null {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[at] ?? 0);
  const line = buf.toString('utf8', at + 1, eol);
  switch (type) {
    case '+':
      return { value: line, next: eol + 2 };
    case '-':
      throw new Error(`redis error: ${line}`);
    case ':':
      return { value: Number(line), next: eol + 2 };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, next: eol + 2 };
      if (buf.length < eol + 2 + len + 2) return null;
      return { value: buf.toString('utf8', eol + 2, eol + 2 + len), next: eol + 2 + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: eol + 2 };
      const items: RespValue[] = [];
      let next = eol + 2;
      for (let i = 0; i < count; i++) {
        const item = parseResp(buf, next);
        if (!item) return null;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected redis reply ${JSON.stringify(line)}`);
  }
}

async function redisPing(port: number): Promise<boolean> {
  try {
    // -LOADING while the AOF replays rejects, so "ready" means really serving.
    return (await redisCommand(port, ['PING'], 1_000)) === 'PONG';
  } catch {
    return false;
  }
}

async function redisPid(port: number): Promise<number | null> {
  try {
    const info = await redisCommand(port, ['INFO', 'server'], 1_000);
    const match = typeof info === 'string' ? /^process_id:(\d+)/m.exec(info) : null;
    return match?.[1] ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

async function runningRedis(pidFile: string): Promise<number | null> {
  const pid = Number.parseInt((await readFile(pidFile, 'utf8').catch(() => '')).trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const name = await processName(pid);
  if (isAlive(pid) && (name === null || name.startsWith('redis'))) return pid;
  await rm(pidFile, { force: true });
  return null;
}

/** Starts (or reuses) a redis-server that keeps its AOF in `dataDir`. */
export async function startRedis(opts: ServiceOptions): Promise<RedisHandle> {
  const log = opts.log ?? (() => {});
  const timeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const binary = await whichBinary('redis-server');
  if (!binary) throw new Error('redis-server not found; call ensureBinaries(["redis"]) or install with: apt-get install -y redis-server');
  const dir = path.resolve(opts.dataDir);
  await mkdir(dir, { recursive: true });
  const portFile = path.join(dir, 'port');
  const pidFile = path.join(dir, 'redis.pid');
  const logFile = path.join(dir, 'redis.log');

  let port = opts.port ?? (await readPort(portFile));
  const portWasChosen = port === null;
  let proc: Spawned | null = null;
  let reusedPid: number | null = null;

  const existingPid = await runningRedis(pidFile);
  const existingPort = await readPort(portFile);
  if (existingPid && existingPort && (await pollReady(async () => (await redisPid(existingPort)) === existingPid, timeoutMs))) {
    log(`Reusing redis-server already running on ${dir} (pid ${existingPid}, port ${existingPort})`);
    port = existingPort;
    reusedPid = existingPid;
  } else if (existingPid) {
    throw new Error(`A redis-server (pid ${existingPid}) owns ${dir} but does not answer PING. Last lines of ${logFile}:\n${await logTail(logFile)}`);
  }

  const launch = async (p: number): Promise<void> => {
    const logFrom = await fileSize(logFile);
    const args = [
      '--bind', LOOPBACK,
      '--port', String(p),
      '--dir', dir,
      '--pidfile', pidFile,
      '--daemonize', 'no',
      // BullMQ refuses any other policy: evicting its keys would lose jobs.
      '--maxmemory-policy', 'noeviction',
      '--appendonly', 'yes',
      '--save', '',
    ];
    const spawned = spawnServer(binary, args, { logFile, detach: opts.detach ?? false, cwd: dir, env: childEnv(), stopSignal: 'SIGTERM' });
    proc = spawned;
    // Another redis already on this port would answer PING too, so the answering process must be ours.
    const ours = async () => (await redisPing(p)) && (await redisPid(p)) === spawned.child.pid;
    await waitUntil(`redis-server on ${LOOPBACK}:${p}`, ours, { timeoutMs, failed: spawned.hasExited, logFile, logFrom });
  };

  if (port === null) port = await freePort();
  if (!reusedPid) {
    const began = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await launch(port);
        break;
      } catch (err) {
        const taken = /Address already in use/i.test((err as Error).message);
        if (!(portWasChosen && taken && attempt < 3)) throw err;
        port = await freePort();
      }
    }
    log(`redis-server started on ${LOOPBACK}:${port} (${Date.now() - began} ms; data ${dir})`);
  }
  await writeFile(portFile, `${port}\n`);

  const fixedPort = port;
  return {
    url: `redis://${LOOPBACK}:${fixedPort}`,
    port: fixedPort,
    async start() {
      if (await runningRedis(pidFile)) return;
      reusedPid = null;
      await launch(fixedPort);
    },
    async stop() {
      const current = proc;
      const pid = current && !current.hasExited() ? current.child.pid : ((await runningRedis(pidFile)) ?? reusedPid);
      if (!pid || !isAlive(pid)) return;
      try {
        await redisCommand(fixedPort, ['SHUTDOWN', 'NOSAVE'], 10_000);
      } catch {
        process.kill(pid, 'SIGTERM');
      }
      if (current && !current.hasExited()) await stopWithin(current, STOP_TIMEOUT_MS, 'SIGKILL');
      else if (!(await waitForPidExit(pid, STOP_TIMEOUT_MS))) process.kill(pid, 'SIGKILL');
      reusedPid = null;
    },
  };
}
