import type { Request, RequestHandler } from 'express';
import type { HttpMetrics } from './metrics.js';

/** Routes that are not tRPC procedures, labelled by their path; anything else is `other` (bounded labels). */
const ROUTES = ['/healthz', '/readyz', '/metrics', '/admin/queues'];

/**
 * The `procedure` label of an HTTP request: the tRPC procedure it called
 * (`credits.retire`), `batch` for a batch of different procedures, `unknown`
 * for a name the router does not have (never the caller's text: labels must
 * stay a small set), or the route for non-tRPC paths.
 */
function procedureLabel(req: Request, procedures: ReadonlySet<string>): string {
  const path = req.originalUrl.split('?')[0] ?? '';
  if (path.startsWith('/trpc/')) {
    const names = new Set(decodeURIComponent(path.slice('/trpc/'.length)).split(','));
    if (names.size !== 1) return 'batch';
    const [name = ''] = names;
    return procedures.has(name) ? name : 'unknown';
  }
  return ROUTES.find((route) => path === route || path.startsWith(`${route}/`)) ?? 'other';
}

/** Times every answer, from the first byte read to the last byte written (or the connection closing). */
export function measureRequests(metrics: HttpMetrics, procedures: ReadonlySet<string>): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    let done = false;
    const observe = () => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observe({ procedure: procedureLabel(req, procedures), status: res.statusCode }, seconds);
    };
    res.once('finish', observe);
    res.once('close', observe);
    next();
  };
}
