/**
 * Starts (or reuses) a local redis-server for development and tests: on
 * 127.0.0.1 only, with a generated password, and (when we are root) as the
 * `redis` OS user rather than root.
 */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { whichBinary } from './binaries.js';
import { assertReachable, chownTree, serviceUser } from './os-users.js';
import { launchOnPort, readPort } from './ports.js';
import { childEnv, isAlive, processName, spawnServer, stopWithin, waitForPidExit, type Spawned } from './processes.js';
import { fileSize, logTail, pollReady, waitUntil } from './readiness.js';
import { shutdownNoSave, withRedis } from '../queue/redis-probe.js';
import { localSecret } from './secrets.js';
import { DEFAULT_READY_TIMEOUT_MS, LOOPBACK, STOP_TIMEOUT_MS, type ServiceOptions } from './service-options.js';

export interface RedisHandle {
  /** redis://:PASSWORD@127.0.0.1:PORT (ioredis and BullMQ take the password from it) */
  url: string;
  port: number;
  /** SHUTDOWN NOSAVE (SIGTERM if that fails); resolves once the process has exited. */
  stop(): Promise<void>;
  /** Starts again with the same port and folder; a no-op while running. */
  start(): Promise<void>;
}

const redisUrl = (port: number, password: string) => `redis://:${encodeURIComponent(password)}@${LOOPBACK}:${port}`;

async function redisPing(url: string): Promise<boolean> {
  try {
    // -LOADING while the AOF replays rejects, so "ready" means really serving.
    return (await withRedis(url, (redis) => redis.ping(), 1_000)) === 'PONG';
  } catch {
    return false;
  }
}

async function redisPid(url: string): Promise<number | null> {
  try {
    const info = await withRedis(url, (redis) => redis.info('server'), 1_000);
    const match = /^process_id:(\d+)/m.exec(info);
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
  const user = await serviceUser('redis', "Install Debian's redis-server package (it creates one: apt-get install -y redis-server) or create one: useradd --system redis");
  const dir = path.resolve(opts.dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Its folder holds the password: nobody else's business (folders made by an older version were 0755).
  await chmod(dir, 0o700);
  await assertReachable(dir, user);
  const portFile = path.join(dir, 'port');
  const pidFile = path.join(dir, 'redis.pid');
  const logFile = path.join(dir, 'redis.log');
  const password = await localSecret(opts.secrets ?? 'files', dir, 'password');
  // Redis writes its AOF and pid file here; data an older version left as root included.
  await chownTree(dir, user);
  const urlFor = (p: number) => redisUrl(p, password);

  const wantedPort = opts.port ?? (await readPort(portFile));
  let proc: Spawned | null = null;
  let reusedPid: number | null = null;

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
      // The rest of the configuration comes from stdin: the password must not be in argv, which every local user can read.
      '-',
    ];
    const spawned = spawnServer(binary, args, {
      logFile,
      detach: opts.detach ?? false,
      cwd: dir,
      env: childEnv(),
      stopSignal: 'SIGTERM',
      uid: user.uid,
      gid: user.gid,
      stdin: `requirepass "${password}"\n`,
    });
    proc = spawned;
    // Another redis already on this port would answer PING too, so the answering process must be ours.
    const ours = async () => (await redisPing(urlFor(p))) && (await redisPid(urlFor(p))) === spawned.child.pid;
    await waitUntil(`redis-server on ${LOOPBACK}:${p}`, ours, { timeoutMs, failed: spawned.hasExited, logFile, logFrom });
  };

  let port: number;
  const existingPid = await runningRedis(pidFile);
  const existingPort = await readPort(portFile);
  if (existingPid && existingPort && (await pollReady(async () => (await redisPid(urlFor(existingPort))) === existingPid, timeoutMs))) {
    log(`Reusing redis-server already running on ${dir} (pid ${existingPid}, port ${existingPort})`);
    port = existingPort;
    reusedPid = existingPid;
  } else if (existingPid) {
    throw new Error(
      `A redis-server (pid ${existingPid}) owns ${dir} but does not answer PING with the password it should have ` +
        `(one started by an older version has none: stop it with kill ${existingPid} and start again). Last lines of ${logFile}:\n${await logTail(logFile)}`,
    );
  } else {
    const began = Date.now();
    port = await launchOnPort(wantedPort, launch, /Address already in use/i);
    log(`redis-server started on ${LOOPBACK}:${port} (${Date.now() - began} ms; data ${dir})`);
  }
  await writeFile(portFile, `${port}\n`);

  const fixedPort = port;
  return {
    url: urlFor(fixedPort),
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
        await shutdownNoSave(urlFor(fixedPort), 10_000);
      } catch {
        process.kill(pid, 'SIGTERM');
      }
      if (current && !current.hasExited()) await stopWithin(current, STOP_TIMEOUT_MS, 'SIGKILL');
      else if (!(await waitForPidExit(pid, STOP_TIMEOUT_MS))) process.kill(pid, 'SIGKILL');
      reusedPid = null;
    },
  };
}
