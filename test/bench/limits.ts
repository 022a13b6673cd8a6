/**
 * The machine's limits beside the service, measured in the same run: a bare
 * Express app answering the same bytes (bare-express.ts), and BullMQ with a
 * no-op processor on the same Redis (bullmq-noop.ts). pgbench is in pgbench.ts.
 * Both processes start with the stack and wait, idle, for their turn.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { RETIREMENT_QUEUE, RetirementQueue } from '../../server/queue/retirement-queue.js';
import { cleanEnv, freePort, spawnNode, waitHttp, type NodeProcess } from './processes.js';
import type { Services } from './stack.js';

export type BareExpress = { url: string; proc: NodeProcess; setBodies(bodies: { get: string; create: string }): Promise<void> };

export async function startBareExpress(dir: string): Promise<BareExpress> {
  const [getFile, createFile] = [join(dir, 'bare-get.json'), join(dir, 'bare-create.json')];
  const port = await freePort();
  const env = cleanEnv({ PORT: String(port), GET_BODY: getFile, CREATE_BODY: createFile });
  const proc = spawnNode('bare express', 'test/bench/bare-express.ts', [], env, join(dir, 'bare-express.log'));
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/healthz`, proc);
  return {
    url,
    proc,
    /** The bytes to answer with, captured from the real API; before the first request. */
    async setBodies(bodies) {
      await writeFile(getFile, bodies.get);
      await writeFile(createFile, bodies.create);
    },
  };
}

const NOOP_PREFIX = 'benchnoop';

export type NoopWorkers = { procs: NodeProcess[]; concurrency: number };

/** `count` no-op worker processes of `concurrency` each, connected and waiting for SIGUSR1. */
export async function startNoopWorkers(services: Services, count: number, concurrency: number): Promise<NoopWorkers> {
  const env = cleanEnv({ REDIS_URL: services.redisUrl, QUEUE_PREFIX: NOOP_PREFIX });
  const procs = Array.from({ length: count }, (_, i) =>
    spawnNode(`no-op worker ${i + 1}`, 'test/bench/bullmq-noop.ts', [String(concurrency)], env, join(services.dir, `noop-worker-${i + 1}.log`)),
  );
  const deadline = Date.now() + 60_000;
  for (const p of procs) {
    while (!(await readFile(p.logFile, 'utf8').catch(() => '')).includes('ready')) {
      if (!p.alive() || Date.now() > deadline) throw new Error(`${p.name} did not start; see ${p.logFile}`);
      await sleep(100);
    }
  }
  return { procs, concurrency };
}

export type BullmqLimit = { jobs: number; addedPerSecond: number; processedPerSecond: number; workers: number; concurrency: number };

/**
 * `jobs` jobs added 16 at a time the way the API adds them
 * (RetirementQueue.ensureJob: one job per ID), then taken by the no-op
 * workers: processed per second from the first job's start to the last one's end.
 */
export async function bullmqLimit(services: Services, noop: NoopWorkers, jobs: number): Promise<BullmqLimit> {
  const producer = new RetirementQueue(services.redisUrl, { prefix: NOOP_PREFIX, attempts: 8 });
  const queue = new Queue(RETIREMENT_QUEUE, { connection: { url: services.redisUrl }, prefix: NOOP_PREFIX });
  try {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < jobs) await producer.ensureJob(`noop-${next++}`);
      }),
    );
    const addSeconds = (performance.now() - started) / 1000;

    noop.procs.forEach((p) => process.kill(p.pid, 'SIGUSR1'));
    const deadline = Date.now() + 120_000;
    for (;;) {
      const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
      if (Object.values(counts).every((n) => n === 0)) break;
      if (Date.now() > deadline) throw new Error(`the no-op workers did not drain the queue: ${JSON.stringify(counts)}`);
      await sleep(50);
    }
    await Promise.all(noop.procs.map((p) => p.stop()));
    const reports = await Promise.all(
      noop.procs.map(async (p) => {
        const line = /^\{"processed".*\}$/m.exec(await readFile(p.logFile, 'utf8'))?.[0];
        if (!line) throw new Error(`${p.name} did not report; see ${p.logFile}`);
        return JSON.parse(line) as { processed: number; firstStartMs: number; lastEndMs: number };
      }),
    );
    const busy = reports.filter((r) => r.processed > 0);
    const processed = busy.reduce((n, r) => n + r.processed, 0);
    const seconds = (Math.max(...busy.map((r) => r.lastEndMs)) - Math.min(...busy.map((r) => r.firstStartMs))) / 1000;
    return { jobs, addedPerSecond: jobs / addSeconds, processedPerSecond: processed / seconds, workers: noop.procs.length, concurrency: noop.concurrency };
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await Promise.all([queue.close(), producer.close()]);
  }
}
