import type { Request, RequestHandler, Response } from 'express';
import type { KeyResolver } from '../auth/api-keys.js';
import { RateLimited, type RateLimits } from '../auth/rate-limits.js';

/**
 * The API key of a request to an admin page: `Authorization: Bearer <key>`,
 * as every API call sends it, or `Authorization: Basic`, whose password is the
 * key — what a browser sends after asking for a user name and password, since
 * a browser cannot add a header of its own to a page it opens. Never a query
 * parameter: URLs end up in logs, proxies and browser history.
 */
function apiKeyOf(req: Request): string | null {
  const header = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer?.[1]) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const password = decoded.slice(decoded.indexOf(':') + 1);
    return decoded.includes(':') && password ? password : null;
  }
  return null;
}

function refuse(req: Request, res: Response, status: 401 | 403 | 429, message: string, realm: string): void {
  req.log.info({ status, path: req.originalUrl.split('?')[0] }, `admin page refused: ${message}`);
  // Basic makes a browser ask for the key (as the password); Bearer is what API callers send.
  if (status === 401) res.set('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
  res.status(status).json({ error: { message, code: status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'FORBIDDEN' : 'TOO_MANY_REQUESTS' } });
}

/**
 * Lets through only callers holding an admin key, with the same key check,
 * roles and rate limits as the admin procedures (trpc/init.ts): no key or an
 * unknown one is 401 (counted against the caller's address), another role 403.
 */
export function requireAdminKey(deps: { keys: KeyResolver; rateLimits: RateLimits }, realm: string): RequestHandler {
  return (req, res, next) => {
    void (async () => {
      const key = apiKeyOf(req);
      const actor = key ? await deps.keys.resolve(key) : null;
      try {
        await (actor ? deps.rateLimits.take(actor.role, actor.keyId) : deps.rateLimits.take('anonymous', req.ip ?? req.socket.remoteAddress ?? 'unknown'));
      } catch (err) {
        if (!(err instanceof RateLimited)) throw err;
        res.set('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
        refuse(req, res, 429, err.message, realm);
        return;
      }
      if (!actor) {
        refuse(req, res, 401, key ? 'API key is unknown or revoked' : 'missing API key: send Authorization: Bearer <admin key>', realm);
        return;
      }
      if (actor.role !== 'admin') {
        refuse(req, res, 403, `role '${actor.role}' may not open this page; needs: admin`, realm);
        return;
      }
      next();
    })().catch(next);
  };
}
