/** Starts (or reuses) a local PostgreSQL server for development and tests. */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findPgBinDir } from './binaries.js';
import {
  assertReachable,
  ensureLedgerDatabase,
  ensureOwnedDir,
  pgIsReady,
  pgLayout,
  pgUser,
  postmasterReady,
  runningPostmaster,
} from './postgres-cluster.js';
import { launchOnPort, readPort } from './ports.js';
import { childEnv, isAlive, run, spawnServer, stopWithin, waitForPidExit, type Spawned } from './processes.js';
import { fileSize, logTail, pollReady, waitUntil } from './readiness.js';
import { DEFAULT_READY_TIMEOUT_MS, LOOPBACK, STOP_TIMEOUT_MS, type ServiceOptions } from './service-options.js';

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

export interface PgOptions extends ServiceOptions {
  /**
   * Throwaway cluster: trade crash safety for speed (fsync off, more
   * connections). Only safe when losing the data to an OS crash is fine.
   */
  ephemeral?: boolean;
}

// A Unix socket path longer than this fails with an obscure error inside postgres.
const MAX_SOCKET_PATH = 100;

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

  const wantedPort = opts.port ?? (await readPort(layout.portFile));
  let proc: Spawned | null = null;
  let reusedPid: number | null = null;

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

  let port: number;
  const existing = await runningPostmaster(layout.cluster);
  if (existing) {
    const ready = async () => (await postmasterReady(layout.cluster, existing.pid)) && (await pgIsReady(bin, existing.port));
    if (!(await pollReady(ready, timeoutMs))) {
      throw new Error(
        `A PostgreSQL server (pid ${existing.pid}) holds ${layout.cluster} but does not accept connections on port ${existing.port}. ` +
          `Last lines of ${layout.logFile}:\n${await logTail(layout.logFile)}`,
      );
    }
    if (wantedPort !== null && wantedPort !== existing.port) log(`PostgreSQL already running on ${layout.cluster} with port ${existing.port} (wanted ${wantedPort}); reusing it`);
    else log(`Reusing PostgreSQL already running on ${layout.cluster} (pid ${existing.pid}, port ${existing.port})`);
    port = existing.port;
    reusedPid = existing.pid;
  } else {
    const began = Date.now();
    port = await launchOnPort(wantedPort, launch, /Address already in use|could not create any TCP\/IP sockets/i);
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
