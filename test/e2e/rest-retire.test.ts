import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestApp, type TestApp } from '../helpers/app.js';
import { waitFor, workerEnv } from '../helpers/retirement-e2e.js';
import { killAllWorkers, spawnWorker, waitForOutput } from '../helpers/worker-process.js';

/*
 * POST /api/records/{id}/retire with a real worker process: 202 and a status
 * to poll while no worker runs, then `retired` once one does; and 200 with
 * the `retired` event, as the original service answered, when the worker
 * finishes within REST_RETIRE_WAIT_MS (generous here: the machine is shared).
 */

let app: TestApp;
const AUTH = { authorization: `Bearer ${ADMIN_KEY}` };

beforeAll(async () => {
  app = await startTestApp({ REST_RETIRE_WAIT_MS: '8000' });
});

afterAll(async () => {
  await killAllWorkers();
  await app?.close();
});

async function createRecord(): Promise<string> {
  const res = await fetch(`${app.url}/api/records/`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ project_name: 'Rimba Raya', registry: 'Verra', vintage: 2020, quantity: 5, serial_number: `VCS-RETIRE-${randomUUID()}` }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

const retire = (id: string, body?: unknown) =>
  fetch(`${app.url}/api/records/${id}/retire`, {
    method: 'POST',
    headers: body === undefined ? AUTH : { ...AUTH, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

describe('retirement through the REST facade', () => {
  it('answers 202 while no worker runs, then the status reads retired once a worker applied it; 200 with the event when it finishes in time', async () => {
    const waiting = await createRecord();
    const accepted = await retire(waiting);
    expect(accepted.status).toBe(202);
    const location = accepted.headers.get('location');
    expect(location).toBe(`/api/records/${waiting}/retirement`);
    expect(await accepted.json()).toMatchObject({ status: 'queued' });

    const worker = spawnWorker(workerEnv(app.env, 'rest-retire-worker'));
    await waitForOutput(worker, /retirement worker started/);
    const finalStatus = await waitFor('the status to read retired', async () => {
      const res = await fetch(`${app.url}${location ?? ''}`, { headers: AUTH });
      const body = (await res.json()) as { status: string };
      return body.status === 'retired' ? { body, retryAfter: res.headers.get('retry-after') } : undefined;
    });
    expect(finalStatus.retryAfter).toBeNull();
    expect(finalStatus.body).toMatchObject({ status: 'retired', retirement: { beneficiary: 'bootstrap key (ADMIN_API_KEY)', reason: null, requested_by: 'key_bootstrap_admin' } });

    const quick = await createRecord();
    const done = await retire(quick, { beneficiary: 'Acme Airlines', reason: 'Offsetting 2025 flights' });
    expect(done.status).toBe(200);
    expect(done.headers.get('location')).toBeNull();
    const event = (await done.json()) as { event_type: string; payload: Record<string, unknown>; created_at: string };
    expect(event).toMatchObject({
      event_type: 'retired',
      payload: { beneficiary: 'Acme Airlines', reason: 'Offsetting 2025 flights', requestedBy: 'key_bootstrap_admin', attempts: 1 },
      actor: 'key_bootstrap_admin',
    });
    const record = (await (await fetch(`${app.url}/api/records/${quick}`, { headers: AUTH })).json()) as { status: string; retired_at: string; events: unknown[] };
    expect(record).toMatchObject({ status: 'retired', retired_at: event.created_at });
    expect(record.events.at(-1)).toEqual(event);

    const again = await retire(quick);
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({ detail: expect.stringMatching(/already retired/) as string });
    expect(await worker.stop()).toBe(0);
  });
});
