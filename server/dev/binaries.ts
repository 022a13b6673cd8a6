/**
 * Finds the PostgreSQL and Redis server binaries, installing the Debian
 * packages with apt-get when running as root.
 */
import { constants as fsConstants, existsSync } from 'node:fs';
import { access, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from './processes.js';
import type { Log, ServiceName } from './service-options.js';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

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

export async function whichBinary(name: string): Promise<string | null> {
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
  await writeFile(policy, '#!/bin/sh\n# Temporary: written by server/dev/binaries.ts while installing packages.\nexit 101\n', {
    mode: 0o755,
  });
  try {
    await fn();
  } finally {
    await rm(policy, { force: true });
  }
}
