import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { migrate } from '../db/migrate.js';
import { loadEnv } from '../env.js';
import { createLogger } from '../logger.js';
import { closeOnSignal } from '../shutdown.js';
import { localAdminKey } from './admin-key.js';
import { ensureServices } from './ensure-services.js';

/**
 * `npm start`: the whole ledger on one machine for development. Uses
 * DATABASE_URL / REDIS_URL when given, otherwise starts local PostgreSQL and
 * Redis with data under .data/ (each with generated passwords; PostgreSQL
 * with the roles ledger_owner and ledger_app); migrates as the owner
 * (MIGRATION_DATABASE_URL, else DATABASE_URL); then runs the API
 * (server/start-api.ts) and one retirement worker (worker/start-worker.ts) as
 * two child processes, the way production runs them, and stops all of it on
 * Ctrl-C or SIGTERM.
 */
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const env = loadEnv();
const dataRoot = env.DATA_DIR ?? `${repoRoot}.data`;
const say = (msg: string) => console.log(`[start] ${msg}`);

const services = await ensureServices({ dataRoot, log: say });
let applied: string[];
try {
  applied = await migrate(services.migrationUrl);
} catch (err) {
  say(err instanceof Error ? err.message : String(err));
  await services.stop();
  process.exit(1);
}
say(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date');

// With the bootstrap key switched off there is none to make up or to tell about: stored admin keys are the way in.
const bootstrapKey = env.BOOTSTRAP_ADMIN_KEY_ENABLED;
let adminApiKey = env.ADMIN_API_KEY;
let adminKeySource = 'the ADMIN_API_KEY environment variable';
if (bootstrapKey && !adminApiKey) {
  const local = await localAdminKey(dataRoot);
  adminApiKey = local.key;
  adminKeySource = `${local.path} (${local.created ? 'generated now' : 'kept from an earlier run'}; set ADMIN_API_KEY to use your own)`;
}

// The API and the worker get the app's role only; the owner's URL stays here.
const { MIGRATION_DATABASE_URL: _ownerUrl, ...inherited } = process.env;
const childEnv = { ...inherited, DATABASE_URL: services.databaseUrl, REDIS_URL: services.redisUrl, ...(adminApiKey ? { ADMIN_API_KEY: adminApiKey } : {}) };
const children = new Map<string, ChildProcess>();
let stopping = false;

function launch(name: string, entry: string): void {
  // Its own process group: Ctrl-C reaches only this launcher, which stops each child once, in order.
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: repoRoot, env: childEnv, stdio: 'inherit', detached: true });
  children.set(name, child);
  child.once('exit', (code, signal) => {
    children.delete(name);
    if (stopping) return;
    say(`${name} exited unexpectedly (${signal ?? `exit code ${code}`}); stopping the rest`);
    void stopAll().then(() => process.exit(1));
  });
}

async function stopAll(): Promise<void> {
  stopping = true;
  // The API first, so no new retirement is accepted while the worker drains.
  for (const name of ['api', 'worker']) {
    const child = children.get(name);
    if (!child) continue;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
  await services.stop();
}

launch('api', 'server/start-api.ts');
launch('worker', 'worker/start-worker.ts');
closeOnSignal(createLogger('start', env.LOG_LEVEL), { graceMs: env.WORKER_LOCK_DURATION_MS + 15_000, stopping: 'stopping the API, the worker and local services' }, stopAll);

const url = `http://${env.HOST}:${env.PORT}`;
while (!stopping && !(await fetch(`${url}/healthz`).then((r) => r.ok, () => false))) await sleep(200);
if (!stopping) {
  say(`ledger API: ${url}/trpc   (health: ${url}/healthz)`);
  if (bootstrapKey) say(`admin API key: read it from ${adminKeySource}`);
  else say('bootstrap admin key off (BOOTSTRAP_ADMIN_KEY_ENABLED=false): use a stored admin key');
  if (bootstrapKey) say(`try: curl -s -H "Authorization: Bearer $(cat ${dataRoot}/admin-api-key 2>/dev/null || echo "$ADMIN_API_KEY")" '${url}/trpc/credits.list?input=%7B%7D'`);
}
