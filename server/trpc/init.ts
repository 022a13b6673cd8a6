import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import { RateLimited } from '../auth/rate-limits.js';
import { ACCESS, type Right } from '../auth/roles.js';
import { DomainError } from '../credits/errors.js';
import { isLockTimeout } from '../db/orm.js';
import type { Context } from './context.js';
import { detailsOf, fieldIssues, toTRPCError } from './errors.js';

/**
 * Meta carries the REST facade's path and method for the procedures it
 * exposes; server/rest/ types it as trpc-to-openapi's. Left opaque here so
 * that AppRouter, whose types the client carries, names no REST library.
 */
export type ProcedureMeta = { openapi?: unknown };

const t = initTRPC.context<Context>().meta<ProcedureMeta>().create({
  // Never ship stack traces to callers, whatever NODE_ENV says.
  isDev: false,
  errorFormatter({ shape, error }) {
    const internal = error.code === 'INTERNAL_SERVER_ERROR';
    const zod = error.cause instanceof ZodError ? error.cause : null;
    return {
      // Internal messages may quote SQL or driver details: callers get a generic one.
      message: internal ? 'Internal server error' : zod ? `Invalid input: ${fieldIssues(zod).map((i) => `${i.path}: ${i.message}`).join('; ')}` : shape.message,
      code: shape.code,
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        path: shape.data.path,
        ...(zod ? { issues: fieldIssues(zod) } : {}),
        ...(internal ? {} : detailsOf(error.cause)),
      },
    };
  },
});

export const router = t.router;
/** Domain rule violations thrown anywhere below become their API error codes here. */
const publicProcedure = t.procedure
  .use(async ({ next }) => {
    const result = await next();
    if (!result.ok && result.error.cause instanceof DomainError) throw toTRPCError(result.error.cause);
    // A lock wait past DB_LOCK_TIMEOUT_MS outside a credit's own transaction (a create waiting on an uncommitted
    // twin, a key change): the same answer as a busy credit.
    if (!result.ok && isLockTimeout(result.error.cause)) {
      throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: 'the ledger is busy with the same records; retry shortly', cause: result.error.cause });
    }
    return result;
  })
  // Every call counts against its key's limit, or its address's when it has no usable key.
  .use(async ({ ctx, next }) => {
    try {
      await (ctx.actor ? ctx.rateLimits.take(ctx.actor.role, ctx.actor.keyId) : ctx.rateLimits.take('anonymous', ctx.ip));
    } catch (err) {
      if (err instanceof RateLimited) throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: err.message, cause: err });
      throw err;
    }
    return next();
  });

const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.actor) {
    throw new TRPCError({
      code: 'UNAUTHORIZED',
      message: ctx.authProblem === 'invalid' ? 'API key is unknown or revoked' : 'missing API key: send Authorization: Bearer <key>',
    });
  }
  return next({ ctx: { ...ctx, actor: ctx.actor } });
});

/** A procedure only callers holding `right` may use; handlers then know the actor exists. */
export const procedureFor = (right: Right) =>
  authedProcedure.use(({ ctx, next }) => {
    const allowed: readonly string[] = ACCESS[right];
    if (!allowed.includes(ctx.actor.role)) {
      throw new TRPCError({ code: 'FORBIDDEN', message: `role '${ctx.actor.role}' may not ${right}; needs one of: ${allowed.join(', ')}` });
    }
    return next({ ctx });
  });
