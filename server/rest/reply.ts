import { TRPCError } from '@trpc/server';

/*
 * What a REST procedure answers besides its body: a status other than 200
 * (202 Accepted) and headers (Location, Retry-After, Link). tRPC gives a
 * procedure no response to write to, so the facade's context carries one,
 * and its responseMeta applies it. It travels under a symbol: middlewares
 * copy the context with spreads, which keep symbol keys, and the shared
 * Context type stays free of REST concerns.
 */

export type Reply = { status: number; headers: Record<string, string> };

const REPLY = Symbol('rest reply');

/** The context for a REST call: `base` plus an empty reply. */
export function withReply<T extends object>(base: T): T {
  const reply: Reply = { status: 200, headers: {} };
  return Object.assign(base, { [REPLY]: reply });
}

/** The reply of a REST call's context; only REST procedures may ask. */
export function replyOf(ctx: object): Reply {
  const reply = (ctx as { [REPLY]?: Reply })[REPLY];
  if (!reply) throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'a REST procedure was called without the REST context' });
  return reply;
}

/** The reply, or none when the call failed before its context was made. */
export const replyIfAny = (ctx: object | undefined): Reply | undefined => (ctx ? (ctx as { [REPLY]?: Reply })[REPLY] : undefined);
