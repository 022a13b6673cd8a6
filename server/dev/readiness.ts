/**
 * Waiting for a server to accept connections, and the lines of its log that
 * explain why it did not.
 */
import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** Lines the server wrote since `fromByte`, for error messages. */
export async function logTail(file: string, fromByte = 0, lines = 30): Promise<string> {
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

export async function fileSize(file: string): Promise<number> {
  return stat(file).then(
    (s) => s.size,
    () => 0,
  );
}

/** Polls a server we just spawned; throws with its log when it exits or times out first. */
export async function waitUntil(
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

/** Polls a server we did not spawn (a reused one); false when it is not ready in time. */
export async function pollReady(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}
