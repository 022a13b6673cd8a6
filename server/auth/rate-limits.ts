import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Role } from './roles.js';

/*
 * Calls per API key per window, by the key's role, counted in Redis so every
 * API process shares the count; callers without a usable key are counted by
 * IP address. While Redis is unreachable each process counts on its own.
 */

export type Caller = 'anonymous' | Role;
export type RateLimitSettings = { windowSeconds: number; callsPerWindow: Record<Caller, number> };

export class RateLimited extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`rate limit reached: too many calls; retry in ${Math.ceil(retryAfterMs / 1000)} s`);
    this.name = 'RateLimited';
  }
}

export class RateLimits {
  private readonly limiters: Record<Caller, RateLimiterRedis>;

  constructor(redis: Redis, prefix: string, settings: RateLimitSettings) {
    const make = (caller: Caller) => {
      const points = settings.callsPerWindow[caller];
      const duration = settings.windowSeconds;
      return new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${prefix}:rate:${caller}`,
        points,
        duration,
        // A caller that has used up its window is refused from memory, without asking Redis again.
        inMemoryBlockOnConsumed: points,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${prefix}:rate:${caller}`, points, duration }),
      });
    };
    this.limiters = { anonymous: make('anonymous'), issuer: make('issuer'), retirer: make('retirer'), auditor: make('auditor'), admin: make('admin') };
  }

  /** Counts one call; throws RateLimited when the caller is over its limit. */
  async take(caller: Caller, key: string): Promise<void> {
    try {
      await this.limiters[caller].consume(key);
    } catch (res) {
      if (res instanceof RateLimiterRes) throw new RateLimited(res.msBeforeNext);
      throw res;
    }
  }
}
