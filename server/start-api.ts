import { startApiServer } from './api-server.js';
import { loadEnv, requireUrl } from './env.js';
import { createLogger } from './logger.js';
import { closeOnSignal } from './shutdown.js';

/** `npm run server`: the API alone, against DATABASE_URL and REDIS_URL. */
const env = loadEnv();
const logger = createLogger('api', env.LOG_LEVEL);
const running = await startApiServer(env, { databaseUrl: requireUrl(env, 'DATABASE_URL'), redisUrl: requireUrl(env, 'REDIS_URL') }, logger);
logger.info({ url: running.url }, `ledger API listening on ${running.url}/trpc`);
if (!env.ADMIN_API_KEY) logger.warn('ADMIN_API_KEY is not set: only keys created earlier can call the API');
else if (!env.BOOTSTRAP_ADMIN_KEY_ENABLED) logger.info('BOOTSTRAP_ADMIN_KEY_ENABLED=false: ADMIN_API_KEY is ignored');

closeOnSignal(logger, { graceMs: 10_000, stopping: 'shutting down: answering requests in flight' }, () => running.close());
