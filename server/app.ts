import { createExpressMiddleware } from '@trpc/server/adapters/express';
import { TRPC_ERROR_CODES_BY_KEY, type TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { parse as parseContentType } from 'content-type';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import getRawBody from 'raw-body';
import typeis from 'type-is';
import { refuseAsDetail } from './rest/detail.js';
import { restApi, type RestOptions } from './rest/rest-api.js';
import type { Registry } from 'prom-client';
import { requireAdminKey } from './ops/admin-auth.js';
import { requestLogging } from './ops/http-logging.js';
import { METRICS_CONTENT_TYPE, type HttpMetrics } from './ops/metrics.js';
import { QUEUE_DASHBOARD_PATH, queueDashboard } from './ops/queue-dashboard.js';
import type { Readiness } from './ops/readiness.js';
import { measureRequests } from './ops/request-metrics.js';
import { createRequestContext, type Deps } from './trpc/context.js';
import { retryAfterHeaders } from './trpc/retry-after.js';
import { appRouter } from './trpc/root.js';

export type RequestLimits = { maxBodyBytes: number; maxBatchSize: number };

/** How a refusal is written: /trpc's shape by default, the REST facade's `{detail}` under /api. */
export type Refusal = (res: Response, status: number, code: TRPC_ERROR_CODE_KEY, message: string) => void;
/** What the operators' routes need: /readyz's checks, and /metrics' registry and request timings. */
export type OpsDeps = {
  readiness: () => Promise<Readiness>;
  registry: Registry;
  httpMetrics: HttpMetrics;
  /** The text /metrics answers; this process's registry unless API processes share a port (see api-server.ts). */
  metricsText?: () => Promise<string>;
};

/** An error answer in the same JSON shape as tRPC's own, for requests refused before a procedure runs. */
function refuse(res: Response, status: number, code: TRPC_ERROR_CODE_KEY, message: string): void {
  res.status(status).json({ error: { message, code: TRPC_ERROR_CODES_BY_KEY[code], data: { code, httpStatus: status } } });
}

/**
 * Reads a JSON request body within `maxBodyBytes`. Everything is refused
 * before a byte is read when it can be: a declared size over the limit is 413
 * whatever the content type, a body that is not JSON is 415 (every procedure
 * takes JSON), as are charsets other than UTF-8 and any Content-Encoding. A
 * body of undeclared size is cut off at the limit with 413: the rest is never
 * read, and the connection is closed with the answer.
 */
function jsonBody(maxBodyBytes: number, answer: Refusal = refuse): RequestHandler {
  const refuseLogged = (req: Request, res: Response, status: number, code: TRPC_ERROR_CODE_KEY, message: string) => {
    req.log.info({ method: req.method, path: req.path, status, contentType: req.headers['content-type'] }, `request refused: ${message}`);
    // The rest of an unread body is not worth reading: end the connection with the answer.
    if (status === 413 || status === 415) res.set('Connection', 'close');
    answer(res, status, code, message);
  };
  return (req, res, next) => {
    if (Number(req.headers['content-length'] ?? 0) > maxBodyBytes) {
      refuseLogged(req, res, 413, 'PAYLOAD_TOO_LARGE', `request body larger than ${maxBodyBytes} bytes`);
      return;
    }
    if (!typeis.hasBody(req)) {
      next();
      return;
    }
    if (!typeis(req, ['application/json'])) {
      refuseLogged(req, res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'request body must be JSON: send Content-Type: application/json');
      return;
    }
    const charset = parseContentType(req.headers['content-type'] ?? '').parameters.charset?.toLowerCase() ?? 'utf-8';
    if (charset !== 'utf-8' && charset !== 'utf8') {
      refuseLogged(req, res, 415, 'UNSUPPORTED_MEDIA_TYPE', `request body must be UTF-8 JSON, not charset ${JSON.stringify(charset)}`);
      return;
    }
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity') {
      refuseLogged(req, res, 415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${JSON.stringify(encoding)} is not accepted: send the body uncompressed`);
      return;
    }
    getRawBody(req, { limit: maxBodyBytes, encoding: 'utf-8' }).then(
      (text) => {
        try {
          (req as Request & { body: unknown }).body = JSON.parse(text) as unknown;
        } catch {
          refuseLogged(req, res, 400, 'PARSE_ERROR', 'request body is not valid JSON');
          return;
        }
        next();
      },
      (err: { type?: string }) => {
        if (err.type === 'entity.too.large') refuseLogged(req, res, 413, 'PAYLOAD_TOO_LARGE', `request body larger than ${maxBodyBytes} bytes`);
        else refuseLogged(req, res, 400, 'BAD_REQUEST', 'request body could not be read');
      },
    );
  };
}

export function createApp(deps: Deps & { limits: RequestLimits; rest: RestOptions; ops: OpsDeps }) {
  const { limits, logger, ops } = deps;
  const app = express();
  app.disable('x-powered-by');
  // First, so every answer (even a refusal) is timed, logged and carries X-Request-Id.
  app.use(requestLogging(logger));
  app.use(measureRequests(ops.httpMetrics, new Set(Object.keys(appRouter._def.procedures))));
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', (req, res, next) => {
    ops.readiness().then((report) => {
      if (report.status !== 'ready') req.log.warn({ missing: report.missing, checks: report.checks }, 'not ready');
      res.status(report.status === 'ready' ? 200 : 503).json(report);
    }, next);
  });
  const adminOnly = requireAdminKey(deps, 'ledger admin');
  app.get('/metrics', adminOnly, (_req, res, next) => {
    (ops.metricsText ?? (() => ops.registry.metrics()))().then((text) => {
      res.set('Content-Type', METRICS_CONTENT_TYPE).send(text);
    }, next);
  });
  app.use(QUEUE_DASHBOARD_PATH, adminOnly, queueDashboard(deps.retirements.queue));
  app.use(
    '/trpc',
    jsonBody(limits.maxBodyBytes),
    createExpressMiddleware({
      router: appRouter,
      createContext: ({ req }) => createRequestContext(deps, req),
      maxBatchSize: limits.maxBatchSize,
      responseMeta: ({ errors }) => ({ headers: retryAfterHeaders(errors) }),
      onError({ error, path, type, req }) {
        if (error.code === 'INTERNAL_SERVER_ERROR') req.log.error({ err: error.cause ?? error, path, type }, 'procedure failed');
        else req.log.info({ code: error.code, path, type, message: error.message }, 'procedure refused the call');
      },
    }),
  );
  // The original service's REST paths, /openapi.json and /docs (server/rest), over the same procedures' handlers.
  app.use(restApi({ ...deps, maxBodyBytes: limits.maxBodyBytes, boundedBody: jsonBody(limits.maxBodyBytes, refuseAsDetail) }));
  app.use((req, res) => {
    req.log.info({ method: req.method, path: req.path }, 'no such route');
    refuse(res, 404, 'NOT_FOUND', `no route ${req.method} ${req.path}`);
  });
  const lastResort: ErrorRequestHandler = (err, req, res, _next) => {
    req.log.error({ err, method: req.method, path: req.path }, 'unhandled request error');
    refuse(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
  };
  app.use(lastResort);
  return app;
}
