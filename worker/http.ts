import { randomUUID } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { METRICS_CONTENT_TYPE } from '../server/ops/metrics.js';
import type { Readiness } from '../server/ops/readiness.js';

export type WorkerHttp = { url: string; close(): Promise<void> };

/**
 * The worker's own small HTTP server, for its container's health check and
 * for Prometheus: GET /healthz (the process is up), /readyz (PostgreSQL,
 * Redis, migrations and the BullMQ worker; 503 naming what is missing) and
 * /metrics. It serves nothing else and takes no credentials: bind it where
 * only the orchestrator and Prometheus reach it (WORKER_HTTP_PORT on HOST).
 */
export async function startWorkerHttp(opts: {
  host: string;
  port: number;
  logger: Logger;
  registry: Registry;
  readiness: () => Promise<Readiness>;
}): Promise<WorkerHttp> {
  const { logger } = opts;
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const answer = async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: `${req.method} is not served here` });
      if (path === '/healthz') return json(res, 200, { ok: true });
      if (path === '/readyz') {
        const report = await opts.readiness();
        if (report.status !== 'ready') logger.warn({ missing: report.missing, checks: report.checks }, 'not ready');
        return json(res, report.status === 'ready' ? 200 : 503, report);
      }
      if (path === '/metrics') {
        const text = await opts.registry.metrics();
        res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE }).end(text);
        return;
      }
      return json(res, 404, { error: `no route ${req.method} ${path}: this port serves /healthz, /readyz and /metrics` });
    };
    answer().catch((err: unknown) => {
      const errorId = randomUUID();
      logger.error({ err, path, errorId }, 'worker HTTP request failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error', errorId });
      else res.destroy();
    });
  });
  // Probes hold no connection open for long; nothing here needs the default two-minute patience.
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's idle keep-alive connection must not hold the worker's exit.
        server.closeIdleConnections();
      }),
  };
}
