import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { REQUEST_ID_HEADER, requestIdFrom } from './request-id.js';

/** Probes and scrapes come every few seconds: their successes are logged at debug only. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

const pathOf = (url: string | undefined) => (url ?? '').split('?')[0] ?? '';
/** Express rewrites req.url inside a mounted router (/trpc, /admin/queues); originalUrl is what the caller asked for. */
const requestPath = (req: IncomingMessage) => pathOf((req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url);

/**
 * pino-http: every request gets an ID (the caller's X-Request-Id when it is
 * safe, else a new one), answered in X-Request-Id, and `req.log`, a child
 * logger whose every line carries `requestId`. One line per answer with
 * method, path (never the query: it holds the procedure's input), status and
 * time; no headers at all, so no credential can reach it that way.
 */
export function requestLogging(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'requestId' },
    genReqId(req, res) {
      const id = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
      res.setHeader('X-Request-Id', id);
      return id;
    },
    serializers: {
      req: (req: { method?: string; url?: string; remoteAddress?: string }) => ({ method: req.method, path: pathOf(req.url), remoteAddress: req.remoteAddress }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel(req, res, err) {
      if (err || res.statusCode >= 500) return 'error';
      if (res.statusCode < 400 && QUIET_PATHS.has(requestPath(req))) return 'debug';
      return 'info';
    },
    customSuccessMessage: (req, res) => `${req.method} ${requestPath(req)} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${requestPath(req)} ${res.statusCode}`,
  }) as RequestHandler;
}
