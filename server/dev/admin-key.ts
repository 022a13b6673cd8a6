import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * For `npm start` on a developer machine: when ADMIN_API_KEY is not set, a
 * random key is made once and kept (mode 600) beside the local data, so the
 * same key works across restarts and is never printed into shared logs.
 */
export async function localAdminKey(dataRoot: string): Promise<{ key: string; path: string; created: boolean }> {
  const path = join(dataRoot, 'admin-api-key');
  try {
    const key = (await readFile(path, 'utf8')).trim();
    if (key.length >= 24) return { key, path, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataRoot, { recursive: true });
  const key = `ccl_admin_${randomBytes(32).toString('base64url')}`;
  await writeFile(path, `${key}\n`, { mode: 0o600 });
  return { key, path, created: true };
}
