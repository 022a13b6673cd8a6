import { randomUUID } from 'node:crypto';
import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerConnection } from '../../server/queue/redis.js';
import { RETIREMENT_QUEUE, RetirementQueue } from '../../server/queue/retirement-queue.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { creditFields } from '../helpers/retirement-e2e.js';

/*
 * The queue dashboard at /admin/queues: only for admin keys (as a bearer
 * token, or as the password of HTTP Basic, which is what a browser can send),
 * and it changes only what `npm run admin -- queue retry-failed` may: failed
 * jobs, back to waiting. No retirement worker runs here, so a retirement's
 * job stays waiting and every refused action can be seen to change nothing;
 * a job is failed the way a worker fails it, through BullMQ's own calls.
 */

let app: TestApp;
let queue: RetirementQueue;
let creditId = '';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

beforeAll(async () => {
  app = await startTestApp();
  queue = new RetirementQueue(app.redisUrl, { prefix: app.prefix, attempts: 1 });
  const { credit } = await app.admin.credits.create.mutate(creditFields(1)[0]!);
  creditId = credit.id;
  expect(await app.admin.credits.retire.mutate({ id: creditId, beneficiary: 'Dashboard Fund' })).toMatchObject({ status: 'queued' });
});

afterAll(async () => {
  await queue?.close();
  await app?.close();
});

const adminKey = () => String(app.env.ADMIN_API_KEY);

describe('/admin/queues access', () => {
  it('is 401 without a key, asking a browser for one (Basic), and 401 for an unknown key', async () => {
    const none = await fetch(`${app.url}/admin/queues`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="ledger admin", charset="UTF-8"');
    expect(await none.text()).not.toContain('<html');
    expect((await fetch(`${app.url}/admin/queues`, { headers: { authorization: 'Bearer not-a-key-0123456789abcdef' } })).status).toBe(401);
    expect((await fetch(`${app.url}/admin/queues`, { headers: { authorization: basic('admin', 'not-a-key-0123456789abcdef') } })).status).toBe(401);
    // The API is reached no other way: not through the dashboard's own JSON API either.
    expect((await fetch(`${app.url}/admin/queues/api/queues`)).status).toBe(401);
  });

  it('is 403 for keys of other roles', async () => {
    for (const role of ['issuer', 'retirer', 'auditor'] as const) {
      const { key } = await app.as(role);
      const res = await fetch(`${app.url}/admin/queues`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status, role).toBe(403);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe(`role '${role}' may not open this page; needs: admin`);
    }
  });

  it('is 200 with the admin key, as a bearer token or as the Basic password, and shows the queue', async () => {
    const page = await fetch(`${app.url}/admin/queues`, { headers: { authorization: `Bearer ${adminKey()}` } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('Ledger queues');
    expect((await fetch(`${app.url}/admin/queues`, { headers: { authorization: basic('anyone', adminKey()) } })).status).toBe(200);

    const res = await fetch(`${app.url}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${adminKey()}` } });
    expect(res.status).toBe(200);
    const { queues } = (await res.json()) as { queues: { name: string; readOnlyMode: boolean; allowRetries: boolean; counts: Record<string, number> }[] };
    expect(queues).toHaveLength(1);
    expect(queues[0]).toMatchObject({ name: 'retirements', readOnlyMode: false, allowRetries: true, allowCompletedRetries: false });
    expect(queues[0]?.counts.waiting).toBe(1);
  });
});

/** Takes the waiting job as a worker would and fails it for good, as a rule's rejection does. */
async function failTheJob(): Promise<void> {
  const connection = workerConnection(app.redisUrl);
  const worker = new Worker(RETIREMENT_QUEUE, null, { connection, prefix: app.prefix, autorun: false });
  try {
    const token = randomUUID();
    const job = await worker.getNextJob(token, { block: false });
    expect(job.id).toBe(creditId);
    await job.moveToFailed(new UnrecoverableError('lock_timeout (the credit stayed locked)'), token);
    expect(await queue.queue.getJobState(creditId)).toBe('failed');
  } finally {
    await worker.close();
    connection.disconnect();
  }
}

describe('/admin/queues changes only what the admin script may', () => {
  const admin = () => ({ authorization: `Bearer ${adminKey()}`, 'content-type': 'application/json' });
  const put = (path: string) => fetch(`${app.url}${path}`, { method: 'PUT', headers: admin() });

  it.each([
    ['PUT', () => `/admin/queues/api/queues/retirements/${creditId}/clean`],
    ['PUT', () => `/admin/queues/api/queues/retirements/${creditId}/promote`],
    ['PUT', () => '/admin/queues/api/queues/retirements/clean/wait'],
    ['PUT', () => '/admin/queues/api/queues/retirements/clean/failed'],
    ['PUT', () => '/admin/queues/api/queues/retirements/retry/completed'],
    ['PUT', () => '/admin/queues/api/queues/retirements/empty'],
    ['PUT', () => '/admin/queues/api/queues/retirements/obliterate'],
    ['PUT', () => '/admin/queues/api/queues/retirements/pause'],
    ['PUT', () => '/admin/queues/api/queues/pause'],
    ['POST', () => '/admin/queues/api/queues/retirements/add'],
    ['PATCH', () => `/admin/queues/api/queues/retirements/${creditId}/update-data`],
  ])('%s %s is refused with the admin key, and the job is untouched', async (method, path) => {
    const res = await fetch(`${app.url}${path()}`, { method, headers: admin(), body: JSON.stringify({ name: 'retire', data: { creditId: 'cc_forged' } }) });
    expect(res.status).toBe(405);
    expect(await queue.queue.getJobState(creditId)).toBe('waiting');
    expect(await queue.queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
    expect(await queue.queue.isPaused()).toBe(false);
    expect((await queue.queue.getJob(creditId))?.data).toMatchObject({ creditId });
  });

  it('refuses to retry a job that has not failed, saying why', async () => {
    const res = await put(`/admin/queues/api/queues/retirements/${creditId}/retry`);
    expect(res.status).toBe(409);
    expect(JSON.stringify(await res.json())).toContain(`job ${creditId} is waiting, not failed: only failed jobs are retried`);
    expect(await queue.queue.getJobState(creditId)).toBe('waiting');
  });

  it('retries a failed job, one or all failed, back to waiting', async () => {
    await failTheJob();
    expect((await put(`/admin/queues/api/queues/retirements/${creditId}/retry`)).status).toBe(204);
    expect(await queue.queue.getJobState(creditId)).toBe('waiting');

    await failTheJob();
    const all = await put('/admin/queues/api/queues/retirements/retry/failed');
    expect(all.status).toBe(200);
    expect(await all.json()).toMatchObject({ retried: 1 });
    expect(await queue.queue.getJobState(creditId)).toBe('waiting');
    expect((await queue.queue.getJob(creditId))?.data).toEqual({ creditId, requestId: expect.any(String) as unknown });
  });
});
