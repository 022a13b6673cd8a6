import { fileURLToPath } from 'node:url';
import { workerOptionsFromEnv } from '../worker/options.js';
import { startWorker } from '../worker/run.js';
import { migrate } from './db/migrate.js';
import { localAdminKey } from './dev/admin-key.js';
import { ensureServices } from './dev/ensure-services.js';
import { loadEnv } from './env.js';
import { createLogger } from './logger.js';
import { serve } from './serve.js';

/**
 * `npm start`: everything on one machine. Uses DATABASE_URL / REDIS_URL when
 * given, otherwise starts local PostgreSQL and Redis with data under .data/;
 * then migrates, and runs the API and one retirement worker in this process.
 */
const env = loadEnv();
const logger = createLogger('ledger', env.LOG_LEVEL);
const dataRoot = env.DATA_DIR ?? fileURLToPath(new URL('../.data', import.meta.url));
const say = (msg: string) => console.log(`[start] ${msg}`);

const services = await ensureServices({ dataRoot, log: say });
const applied = await migrate(services.databaseUrl);
say(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date');

let adminKeySource: string;
if (env.ADMIN_API_KEY) {
  adminKeySource = 'the ADMIN_API_KEY environment variable';
} else {
  const local = await localAdminKey(dataRoot);
  env.ADMIN_API_KEY = local.key;
  adminKeySource = `${local.path} (${local.created ? 'generated now' : 'kept from an earlier run'}; set ADMIN_API_KEY to use your own)`;
}

const api = await serve(env, services, logger);
const worker = await startWorker({ ...workerOptionsFromEnv(env), orm: api.orm, logger: logger.child({ name: 'worker' }), redisUrl: services.redisUrl });

say(`ledger API: ${api.url}/trpc   (health: ${api.url}/healthz)`);
say(`admin API key: read it from ${adminKeySource}`);
say(`try: curl -s -H "Authorization: Bearer $(cat ${dataRoot}/admin-api-key 2>/dev/null || echo "$ADMIN_API_KEY")" '${api.url}/trpc/credits.list?input=%7B%7D'`);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: finishing jobs in flight and stopping`);
    void worker
      .close()
      .then(() => api.close())
      .then(() => services.stop())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        console.error(err);
        process.exit(1);
      });
  });
}
