/**
 * The OS users the local servers run as. As root, PostgreSQL runs as
 * `postgres` (it refuses root) and Redis as `redis` (it need not be root, so
 * it is not); otherwise both run as whoever started them.
 */
import { chown, lchown, lstat, mkdir, readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isRoot } from './binaries.js';
import { run } from './processes.js';

export interface ServiceUser {
  /** Set only when running as root: spawn with these. */
  uid?: number;
  gid?: number;
  /** The OS user name the server runs as (for peer authentication and messages). */
  name: string;
}

/**
 * The OS user a server runs as: `name` when running as root (which must
 * exist; `installHint` says how to get it), else the current user.
 */
export async function serviceUser(name: string, installHint: string): Promise<ServiceUser> {
  if (!isRoot) return { name: os.userInfo().username };
  try {
    const uid = Number.parseInt((await run('id', ['-u', name])).stdout, 10);
    const gid = Number.parseInt((await run('id', ['-g', name])).stdout, 10);
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid, name };
  } catch {
    // Fall through to the error below.
  }
  throw new Error(`Running as root but there is no '${name}' OS user to run it as (it must not run as root). ${installHint}`);
}

/** The server's user must be able to reach its folders; a root-only ancestor (mkdtemp makes 0700) blocks it. */
export async function assertReachable(dir: string, user: ServiceUser): Promise<void> {
  if (user.uid === undefined) return;
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const s = await stat(d);
    const bit = s.uid === user.uid ? 0o100 : s.gid === user.gid ? 0o010 : 0o001;
    if (!(s.mode & bit)) {
      throw new Error(`The ${user.name} OS user cannot enter ${d} (mode ${(s.mode & 0o777).toString(8)}); make it traversable, e.g. chmod o+x ${d}`);
    }
    if (d === path.dirname(d)) return;
  }
}

export async function ensureOwnedDir(dir: string, user: ServiceUser, mode: number): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  if (user.uid !== undefined && user.gid !== undefined) await chown(dir, user.uid, user.gid);
}

/** Gives `dir` and everything in it to the user (files an older version left owned by root included). */
export async function chownTree(dir: string, user: ServiceUser): Promise<void> {
  const { uid, gid } = user;
  if (uid === undefined || gid === undefined) return;
  const walk = async (p: string): Promise<void> => {
    const s = await lstat(p);
    if (s.uid !== uid || s.gid !== gid) await (s.isSymbolicLink() ? lchown : chown)(p, uid, gid);
    if (s.isDirectory()) for (const entry of await readdir(p)) await walk(path.join(p, entry));
  };
  await walk(dir);
}
