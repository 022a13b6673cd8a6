/**
 * The queue's limit: a BullMQ worker process on the ledger's queue name whose
 * processor does nothing. It connects, prints `ready` and waits; SIGUSR1
 * starts it taking jobs, SIGTERM stops it and prints
 * {"processed", "firstStartMs", "lastEndMs"} (epoch ms).
 * Run: REDIS_URL=… QUEUE_PREFIX=… node --import tsx test/bench/bullmq-noop.ts <concurrency>
 */
import { Worker } from 'bullmq';
import { workerConnection } from '../../server/queue/redis.js';
import { RETIREMENT_QUEUE } from '../../server/queue/retirement-queue.js';

let processed = 0;
let firstStartMs = 0;
let lastEndMs = 0;
const worker = new Worker(
  RETIREMENT_QUEUE,
  () => {
    firstStartMs ||= Date.now();
    return Promise.resolve();
  },
  { connection: workerConnection(process.env.REDIS_URL ?? ''), prefix: process.env.QUEUE_PREFIX, concurrency: Number(process.argv[2] ?? 4), autorun: false },
);
worker.on('completed', () => {
  processed++;
  lastEndMs = Date.now();
});
await worker.waitUntilReady();
console.log('ready');
process.once('SIGUSR1', () => void worker.run());
process.once('SIGTERM', () => {
  void worker.close().then(() => {
    console.log(JSON.stringify({ processed, firstStartMs, lastEndMs }));
    process.exit(0);
  });
});
