import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { BeforeHookResult, HookContext, QueueAdapterOptions } from '@bull-board/api/typings/app';
import type { Queue } from 'bullmq';
import type { RequestHandler } from 'express';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/** bull-board's routes (as its hooks name them) for retrying one job, and every job in a state. */
const RETRY_JOB = '/api/queues/:queueName/:jobId/retry';
const RETRY_ALL = '/api/queues/:queueName/retry/:queueStatus';

const CLI = 'npm run admin -- queue';

/*
 * The board shows everything (counts, jobs, their data and failure reasons)
 * and changes only what `npm run admin -- queue retry-failed` may change:
 * failed jobs, moved back to waiting, one or all. The ledger's rules live
 * outside BullMQ, and they hold either way: a retried job retires its credit
 * only while PostgreSQL holds that request as pending (the processor decides
 * under the row lock). Everything else is refused, because the admin script
 * does not do it either and for the same reasons: retrying a completed job
 * runs a finished retirement again; cleaning or removing a failed job would
 * throw away the evidence the reconciler reads to end a request whose workers
 * kept dying (server/queue/reconcile.ts), and finished jobs expire by
 * themselves (retirement-queue.ts); adding, editing, promoting, pausing or
 * emptying the queue goes around the API that records each request.
 *
 * bull-board checks none of this itself (its "retry" takes completed jobs
 * too), so the hook below decides every route that is not a GET, and an
 * action a later bull-board adds is refused as well.
 */
async function allowed({ method, route, request }: HookContext, queue: Queue): Promise<BeforeHookResult> {
  if (method === 'get') return { allow: true };
  const params = request.params as { jobId?: string; queueStatus?: string };
  if (method === 'put' && route === RETRY_ALL) {
    if (params.queueStatus === 'failed') return { allow: true };
    return { allow: false, status: 405, message: `only failed jobs are retried, not ${String(params.queueStatus)} ones (as ${CLI} retry-failed)` };
  }
  if (method === 'put' && route === RETRY_JOB) {
    const state = await queue.getJobState(String(params.jobId));
    if (state === 'failed') return { allow: true };
    return { allow: false, status: 409, message: `job ${String(params.jobId)} is ${state}, not failed: only failed jobs are retried (as ${CLI} retry-failed)` };
  }
  return { allow: false, status: 405, message: `the queue dashboard only retries failed jobs; for the rest use ${CLI} (status, retry-failed, reconcile)` };
}

/** bull-board reads allowCompletedRetries (it hides the retry button of completed jobs) though its types omit it. */
const adapterOptions: Partial<QueueAdapterOptions> & { allowCompletedRetries: boolean } = {
  allowRetries: true,
  allowCompletedRetries: false,
  description: `Retries failed jobs only; reconcile with ${CLI} reconcile`,
};

export function queueDashboard(queue: Queue): RequestHandler {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: [
      new BullMQAdapter(queue, adapterOptions),
    ],
    serverAdapter,
    options: {
      uiConfig: { boardTitle: 'Ledger queues' },
      handlerHooks: { before: (context) => allowed(context, queue) },
    },
  });
  return serverAdapter.getRouter() as RequestHandler;
}
