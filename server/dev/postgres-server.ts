/**
 * Starts (or reuses) a local PostgreSQL server for development and tests,
 * locked down: no `trust` anywhere. The superuser logs in only over the Unix
 * socket as the server's OS user, or over 127.0.0.1 with its generated
 * password; the ledger's roles (server/dev/ledger-roles.ts) log in over
 * 127.0.0.1 with theirs.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findPgBinDir } from './binaries.js';
import { APP_ROLE, LEDGER_DATABASE, OWNER_ROLE, type LedgerRole } from './ledger-roles.js';
import { assertReachable, ensureOwnedDir } from './os-users.js';
import {
  ensureLedgerRolesAndDatabase,
  initCluster,
  pgIsReady,
  pgLayout,
  pgUser,
  postmasterReady,
  runningPostmaster,
  superuserSql,
  writeAuthConfig,
  type PgSuperuser,
} from './postgres-cluster.js';
import { launchOnPort, readPort } from './ports.js';
import { childEnv, isAlive, spawnServer, stopWithin, waitForPidExit, type Spawned } from './processes.js';
import { fileSize, logTail, pollReady, waitUntil } from './readiness.js';
import { localSecret } from './secrets.js';
import { DEFAULT_READY_TIMEOUT_MS, LOOPBACK, STOP_TIMEOUT_MS, type ServiceOptions } from './service-options.js';

export interface PgHandle {
  port: number;
  /** ledger_app on database `ledger`: the API's, the worker's and the admin script's DATABASE_URL. */
  appUrl: string;
  /** ledger_owner on database `ledger`: what migrations run as (MIGRATION_DATABASE_URL). */
  ownerUrl: string;
  /** The same as ownerUrl, for callers that predate the roles: migrate with it, run the app on appUrl. */
  url: string;
  /** One of the ledger's roles, with its password, on another database of this server. */
  roleUrl(role: LedgerRole, db: string): string;
  /** The superuser `postgres`, with its password, over TCP: for setting up databases and for tests' inspection. */
  adminUrl(db: string): string;
  /** Fast shutdown; resolves once the server process has exited. */
  stop(): Promise<void>;
  /** Starts again on the same data folder and port; a no-op while running. */
  start(): Promise<void>;
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
 * `<dataDir>/cluster`, creating it on first use; writes its pg_hba.conf; sets
 * the passwords of the superuser, ledger_owner and ledger_app (kept as
 * `<dataDir>/*.password`, mode 0600, or in memory: `secrets`); and ensures
 * database `ledger`, owned by ledger_owner.
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

  const store = opts.secrets ?? 'files';
  const passwords = {
    superuser: await localSecret(store, layout.dataDir, 'postgres.password'),
    owner: await localSecret(store, layout.dataDir, `${OWNER_ROLE}.password`),
    app: await localSecret(store, layout.dataDir, `${APP_ROLE}.password`),
  };

  if (!existsSync(path.join(layout.cluster, 'PG_VERSION'))) {
    await ensureOwnedDir(layout.cluster, user, 0o700);
    const began = Date.now();
    await initCluster(bin, layout, user, passwords.superuser, opts.ephemeral ?? false);
    log(`PostgreSQL cluster initialised in ${layout.cluster} (${Date.now() - began} ms)`);
  }
  await writeAuthConfig(layout, user);

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
      uid: user.uid,
      gid: user.gid,
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
    // It may have been started with an older, laxer pg_hba.conf.
    await superuserSql({ bin, port, socketDir: layout.socketDir, user }, 'postgres', 'select pg_reload_conf()');
  } else {
    const began = Date.now();
    port = await launchOnPort(wantedPort, launch, /Address already in use|could not create any TCP\/IP sockets/i);
    log(`PostgreSQL started on ${LOOPBACK}:${port} (${Date.now() - began} ms; log ${layout.logFile})`);
  }
  await writeFile(layout.portFile, `${port}\n`);
  const superuser: PgSuperuser = { bin, port, socketDir: layout.socketDir, user };
  await ensureLedgerRolesAndDatabase(superuser, passwords);

  const fixedPort = port;
  const urlOf = (role: string, password: string, db: string) =>
    `postgres://${role}:${encodeURIComponent(password)}@${LOOPBACK}:${fixedPort}/${encodeURIComponent(db)}`;
  const roleUrl = (role: LedgerRole, db: string) => urlOf(role, role === OWNER_ROLE ? passwords.owner : passwords.app, db);
  return {
    port: fixedPort,
    appUrl: roleUrl(APP_ROLE, LEDGER_DATABASE),
    ownerUrl: roleUrl(OWNER_ROLE, LEDGER_DATABASE),
    url: roleUrl(OWNER_ROLE, LEDGER_DATABASE),
    roleUrl,
    adminUrl: (db: string) => urlOf('postgres', passwords.superuser, db),
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
