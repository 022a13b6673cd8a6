import express, { type RequestHandler } from 'express';
import swaggerUi from 'swagger-ui-express';
import { createOpenApiNodeHttpHandler } from 'trpc-to-openapi';
import typeis from 'type-is';
import { createRequestContext, type Deps } from '../trpc/context.js';
import { router } from '../trpc/init.js';
import { retryAfterHeaders } from '../trpc/retry-after.js';
import { errorsAsDetail, sendDetail } from './detail.js';
import { restDocument } from './openapi-document.js';
import { createRecordsRouter } from './records.router.js';
import { replyIfAny, withReply } from './reply.js';

export type RestOptions = {
  /** How long POST /api/records/{id}/retire waits for the worker before answering 202 (REST_RETIRE_WAIT_MS). */
  retireWaitMs: number;
};

/**
 * A POST with nothing in it is an empty JSON object. The original's retire
 * took no body, so its clients send none, often with `Content-Length: 0` and
 * no Content-Type; everything else goes through the same bounds as /trpc.
 */
function restBody(bounded: RequestHandler): RequestHandler {
  return (req, res, next) => {
    const empty = !typeis.hasBody(req) || (req.headers['content-length'] === '0' && req.headers['transfer-encoding'] === undefined);
    if (req.method !== 'POST' || !empty) {
      bounded(req, res, next);
      return;
    }
    (req as { body?: unknown }).body = {};
    req.headers['content-type'] = 'application/json';
    next();
  };
}

/**
 * The REST facade (/api/…, trpc-to-openapi over the records procedures), its
 * OpenAPI document (/openapi.json) and interactive docs (/docs, Swagger UI's
 * files from the installed package: no CDN). Same keys, roles, rate limits,
 * request budget and body bounds as /trpc; errors as `{detail}`.
 * `boundedBody` is /trpc's JSON body reader answering in `{detail}`.
 */
export function restApi(deps: Deps & { rest: RestOptions; maxBodyBytes: number; boundedBody: RequestHandler }): express.Router {
  const { logger } = deps;
  const restRouter = router({ records: createRecordsRouter(deps.rest) });
  const document = restDocument(restRouter, deps.rest);
  const errors = errorsAsDetail();

  const handle = createOpenApiNodeHttpHandler<typeof restRouter, express.Request, express.Response>({
    router: restRouter,
    createContext: async ({ req }) => withReply(await createRequestContext(deps, req)),
    responseMeta({ ctx, errors: failed }) {
      if (failed.length > 0) {
        const unauthorized = failed.some((e) => e.code === 'UNAUTHORIZED');
        return { headers: { ...retryAfterHeaders(failed), ...(unauthorized ? { 'www-authenticate': 'Bearer' } : {}) } };
      }
      const reply = replyIfAny(ctx);
      return reply ? { status: reply.status, headers: reply.headers } : {};
    },
    onError({ error, path, req }) {
      errors.remember(req, error);
      if (error.code === 'INTERNAL_SERVER_ERROR') logger.error({ err: error.cause ?? error, path, type: 'rest' }, 'procedure failed');
      else logger.info({ code: error.code, path, type: 'rest', message: error.message }, 'procedure refused the call');
    },
    maxBodySize: deps.maxBodyBytes,
  });

  const api = express.Router();
  api.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  // Swagger UI's page loads its files relative to itself, so it must be asked for as /docs/.
  api.get('/docs', (req, res, next) => (req.path === '/docs' && !req.originalUrl.startsWith('/docs/') ? res.redirect(301, '/docs/') : next()));
  const docsOptions = { swaggerUrl: '/openapi.json', customSiteTitle: 'Carbon Credit Ledger — REST API', swaggerOptions: { validatorUrl: null } };
  api.use('/docs', swaggerUi.serveFiles(undefined, docsOptions), swaggerUi.setup(undefined, docsOptions));

  api.use('/api', errors.rewrite, restBody(deps.boundedBody));
  // Mounted without a path: the adapter matches on the whole URL, /api included.
  api.use((req, res, next) => {
    if (!req.path.startsWith('/api/')) {
      next();
      return;
    }
    handle(req, res, next).catch(next);
  });
  api.use('/api', (req, res) => {
    logger.info({ method: req.method, path: req.originalUrl }, 'no such REST route');
    sendDetail(res, 404, `no route ${req.method} ${req.baseUrl}${req.path}`);
  });
  return api;
}
