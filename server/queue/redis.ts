import { Redis } from 'ioredis';

/**
 * Producers fail fast when Redis is down (the API then answers from
 * PostgreSQL alone); workers wait for it forever, as BullMQ requires.
 */
export function producerConnection(url: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    lazyConnect: false,
  });
}

export function workerConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null });
}

/** BullMQ loses jobs under any eviction policy but noeviction. */
export async function evictionPolicy(redis: Redis): Promise<string | null> {
  const reply = (await redis.config('GET', 'maxmemory-policy'));
  return reply[1] ?? null;
}
