/** Short-lived ioredis connections for checking on and stopping a Redis server (dev launcher, admin script). */
import { Redis } from 'ioredis';

/**
 * Runs `fn` on a fresh connection that never reconnects or queues, and always
 * disconnects it. No ready check: a command sent while the server still
 * replays its AOF gets -LOADING and rejects, so callers see the server as it
 * is right now. Connecting and each command are bounded by `timeoutMs`.
 */
export async function withRedis<T>(url: string, fn: (redis: Redis) => Promise<T>, timeoutMs = 2_000): Promise<T> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  let firstError: Error | null = null;
  // Without a listener ioredis prints every refused connection while a server is starting.
  redis.on('error', (err: Error) => (firstError ??= err));
  try {
    try {
      await redis.connect();
    } catch (err) {
      // connect() rejects with "Connection is closed."; the 'error' event has the reason.
      throw firstError ?? err;
    }
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** SHUTDOWN NOSAVE; resolves once the server has closed the connection, rejects if it refused. */
export async function shutdownNoSave(url: string, timeoutMs: number): Promise<void> {
  await withRedis(
    url,
    async (redis) => {
      try {
        await redis.shutdown('NOSAVE');
      } catch (err) {
        // SHUTDOWN answers by closing the connection, which ioredis reports as this error.
        if ((err as Error).message !== 'Connection is closed.') throw err;
      }
    },
    timeoutMs,
  );
}
