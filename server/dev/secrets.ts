/**
 * Generated passwords of the local servers. `npm start` keeps them in files
 * (mode 0600) beside the data, so a restart finds the same ones; the tests'
 * throwaway servers keep them in this process's memory only.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** 'files': `<dir>/<name>`, mode 0600, made once and kept. 'memory': this process only (tests). */
export type SecretStore = 'files' | 'memory';

const inMemory = new Map<string, string>();

/** URL- and SQL-literal-safe: base64url of 24 random bytes. */
export function newPassword(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The password called `name` for the server whose data is in `dir`: the same
 * one every time it is asked for (from the file, or from memory).
 */
export async function localSecret(store: SecretStore, dir: string, name: string): Promise<string> {
  const file = path.join(path.resolve(dir), name);
  if (store === 'memory') {
    let value = inMemory.get(file);
    if (!value) {
      value = newPassword();
      inMemory.set(file, value);
    }
    return value;
  }
  const existing = await readSecret(file);
  if (existing) {
    // A file someone made readable to others is put back to owner-only.
    await chmod(file, 0o600);
    return existing;
  }
  try {
    // 'wx': of two launchers starting on one folder, one writes and both read its value.
    await writeFile(file, `${newPassword()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const value = await readSecret(file);
  if (value) return value;
  // An empty or damaged file: replace it.
  const fresh = newPassword();
  await writeFile(file, `${fresh}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return fresh;
}

async function readSecret(file: string): Promise<string | null> {
  try {
    const value = (await readFile(file, 'utf8')).trim();
    return /^[A-Za-z0-9_-]{16,}$/.test(value) ? value : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
