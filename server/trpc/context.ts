import type { EntityManager } from '@mikro-orm/postgresql';
import type { Request } from 'express';
import type { Logger } from 'pino';
import type { KeyResolver } from '../auth/api-keys.js';
import type { RateLimits } from '../auth/rate-limits.js';
import type { Actor } from '../auth/roles.js';
import type { Orm } from '../db/orm.js';
import type { RetirementQueue } from '../queue/retirement-queue.js';
import { RequestBudget } from './request-budget.js';

/** Long-lived dependencies, built once per process. */
export type Deps = {
  orm: Orm;
  logger: Logger;
  retirements: RetirementQueue;
  /** Bearer token → actor, cached briefly (API_KEY_CACHE_MS). */
  keys: KeyResolver;
  /** The bootstrap key, when this process honours one (keys.revoke needs it to retire it). */
  adminApiKey?: string;
  /** How long a request waits for a credit's row lock before answering CREDIT_BUSY. */
  lockTimeoutMs: number;
  rateLimits: RateLimits;
};

export type Context = Deps & {
  /** The HTTP request's ID (X-Request-Id, or one of ours); `logger` is a child that puts it on every line. */
  requestId: string;
  /** A fork per request: the global EntityManager is never shared. */
  em: EntityManager;
  actor: Actor | null;
  /** Why there is no actor: no Authorization header, or a key we do not honour. */
  authProblem: 'missing' | 'invalid' | null;
  /** The caller's address, which counts calls made without a usable key. */
  ip: string;
  /** What all the calls of this HTTP request may read and create together. */
  budget: RequestBudget;
};

export async function createRequestContext(deps: Deps, req: Request): Promise<Context> {
  const base = {
    ...deps,
    // pino-http's child logger for this request (server/ops/http-logging.ts): whatever a procedure logs carries the request's ID.
    logger: req.log ?? deps.logger,
    requestId: typeof req.id === 'string' ? req.id : '',
    em: deps.orm.em.fork(),
    ip: req.ip ?? req.socket.remoteAddress ?? 'unknown',
    budget: new RequestBudget(),
  };
  const header = req.headers.authorization;
  if (!header) return { ...base, actor: null, authProblem: 'missing' };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  const actor = match?.[1] ? await deps.keys.resolve(match[1]) : null;
  return { ...base, actor, authProblem: actor ? null : 'invalid' };
}
