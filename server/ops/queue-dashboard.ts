import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { RequestHandler } from 'express';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/*
 * Read-only, on purpose. The ledger's queue rules live outside BullMQ: a job
 * may retire its credit only while PostgreSQL holds that request as pending,
 * and the failed job of a request whose workers kept dying is the evidence the
 * reconciler needs to end that request instead of starting it again (see
 * server/queue/reconcile.ts). bull-board's retry and clean act on Redis alone,
 * and "retry all" / "clean all" act on whole pages of jobs at once with no hook
 * per job where PostgreSQL could be asked. So the board shows (counts, jobs,
 * their data and failure reasons) and changes nothing; operators retry and
 * reconcile with `npm run admin -- queue retry-failed | reconcile`.
 *
 * readOnlyMode hides the buttons and makes bull-board refuse its queue actions
 * (405); the hook below also refuses every route that is not a GET, so an
 * action a later bull-board adds is refused too, whatever it checks itself.
 */
export function queueDashboard(queue: Queue): RequestHandler {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: [
      new BullMQAdapter(queue, {
        readOnlyMode: true,
        description: 'Read-only: retry and reconcile with npm run admin -- queue retry-failed | reconcile',
      }),
    ],
    serverAdapter,
    options: {
      uiConfig: { boardTitle: 'Ledger queues' },
      handlerHooks: {
        before: ({ method }) =>
          method === 'get' ? { allow: true } : { allow: false, status: 405, message: 'the queue dashboard is read-only: use npm run admin -- queue' },
      },
    },
  });
  return serverAdapter.getRouter() as RequestHandler;
}
