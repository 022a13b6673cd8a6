import { createExpressMiddleware } from '@trpc/server/adapters/express';
import express, { type ErrorRequestHandler } from 'express';
import type { Deps } from './trpc/context.js';
import { createRequestContext } from './trpc/context.js';
import { appRouter } from './trpc/root.js';

const MAX_BODY = '1mb';

/** Body-parser failures answered in the same JSON shape as tRPC errors. */
const bodyErrors: ErrorRequestHandler = (err: { type?: string; status?: number }, _req, res, next) => {
  if (err.type === 'entity.too.large') {
    res.status(413).json({ error: { message: `request body larger than ${MAX_BODY}`, code: -32600, data: { code: 'PAYLOAD_TOO_LARGE', httpStatus: 413 } } });
    return;
  }
  if (err.type === 'entity.parse.failed' || err.status === 400) {
    res.status(400).json({ error: { message: 'request body is not valid JSON', code: -32700, data: { code: 'PARSE_ERROR', httpStatus: 400 } } });
    return;
  }
  next(err);
};

const lastResort: ErrorRequestHandler = (err, req, res, _next) => {
  (req as { log?: Deps['logger'] }).log?.error({ err }, 'unhandled request error');
  res.status(500).json({ error: { message: 'Internal server error', code: -32603, data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 } } });
};

export function createApp(deps: Deps) {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.use(
    '/trpc',
    // Size is checked from Content-Length before a byte is parsed.
    express.json({ limit: MAX_BODY, strict: false }),
    bodyErrors,
    createExpressMiddleware({
      router: appRouter,
      createContext: ({ req }) => createRequestContext(deps, req),
      onError({ error, path, type }) {
        if (error.code === 'INTERNAL_SERVER_ERROR') deps.logger.error({ err: error.cause ?? error, path, type }, 'procedure failed');
      },
    }),
  );
  app.use(lastResort);
  return app;
}
