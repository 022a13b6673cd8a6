import { z } from 'zod';

/**
 * The worker's give-up path (recording a retirement's failure after its last
 * attempt) waits this many times DB_LOCK_TIMEOUT_MS for the credit's row lock,
 * inside one statement, so DB_STATEMENT_TIMEOUT_MS must stay above that wait.
 */
export const GIVE_UP_LOCK_PATIENCE = 10;

const envSchema = z.object({
  // The app's role (ledger_app): the API, the worker and the admin script connect with it.
  DATABASE_URL: z.string().url().optional(),
  // The schema owner's role (ledger_owner), for `npm run migrate` only; falls back to DATABASE_URL.
  MIGRATION_DATABASE_URL: z.string().url().optional(),
  REDIS_URL: z.string().url().optional(),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  // API processes on this machine sharing PORT (one per core); 1 in containers, where replicas scale instead.
  API_PROCESSES: z.coerce.number().int().min(1).max(64).default(1),
  ADMIN_API_KEY: z.string().min(24, 'ADMIN_API_KEY must be at least 24 characters').optional(),
  // Once a stored admin key exists, the bootstrap key can be switched off (or revoked with keys.revoke).
  BOOTSTRAP_ADMIN_KEY_ENABLED: z.stringbool().default(true),
  // How long an API process trusts what a key resolved to; a revocation reaches every process within it.
  API_KEY_CACHE_MS: z.coerce.number().int().min(0).max(1000).default(500),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // In braces it is a Redis Cluster hash tag: every key of the queue then lives in one slot, as BullMQ needs there.
  QUEUE_PREFIX: z
    .string()
    .regex(/^(?:[A-Za-z0-9_-]+|\{[A-Za-z0-9_-]+\})$/, 'may only hold letters, digits, _ and -, optionally in braces as a Redis Cluster hash tag ({ledger})')
    .default('ledger'),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
  // Retirements a worker applies together in one transaction (1: each in its own), and how long one waits for company.
  WORKER_BATCH_SIZE: z.coerce.number().int().min(1).max(256).default(8),
  WORKER_BATCH_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(2),
  // PostgreSQL connections per process: the API's default 10; a worker's WORKER_CONCURRENCY + 2 (one per job, one for
  // the reconciler, one spare), and never fewer than WORKER_CONCURRENCY + 1.
  DB_POOL_MAX: z.coerce.number().int().min(2).max(500).optional(),
  RECONCILE_INTERVAL_MS: z.coerce.number().int().min(200).default(30_000),
  RETIREMENT_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
  WORKER_LOCK_DURATION_MS: z.coerce.number().int().min(1000).default(30_000),
  RETIREMENT_MAX_STALLS: z.coerce.number().int().min(0).max(100).default(3),
  DB_LOCK_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
  // PostgreSQL's statement_timeout on every connection of the API, the worker and the admin script.
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(1000).default(60_000),
  DATA_DIR: z.string().optional(),
  // Request bounds: bytes of one request body (any content type), and calls in one tRPC batch.
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  MAX_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(50),
  // How long POST /api/records/{id}/retire waits for the worker before answering 202: the original service answered
  // 200 with the `retired` event, and a quick worker still lets it. 0 answers 202 at once; the cap keeps requests short.
  REST_RETIRE_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(1500),
  // Calls per key per window, by role (callers without a usable key: per IP address).
  RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(1),
  RATE_LIMIT_ISSUER: z.coerce.number().int().min(1).default(1000),
  RATE_LIMIT_RETIRER: z.coerce.number().int().min(1).default(1000),
  RATE_LIMIT_AUDITOR: z.coerce.number().int().min(1).default(1000),
  RATE_LIMIT_ADMIN: z.coerce.number().int().min(1).default(2000),
  RATE_LIMIT_ANONYMOUS: z.coerce.number().int().min(1).default(100),
  // The admin script's (server/admin): the API it talks to and its key (--url / --api-key override them).
  LEDGER_URL: z.string().url().optional(),
  LEDGER_API_KEY: z.string().optional(),
  // `production` refuses placeholder secrets and never loads the development log prettifier.
  NODE_ENV: z.string().optional(),
  // Above common load-balancer idle timeouts (60 s), so the balancer, not the API, closes idle connections:
  // otherwise a request sent on a connection the API is closing at that moment fails with a reset.
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(65_000),
  // Node's requestTimeout (300 s) ends a request first anyway, so a longer headers timeout would mean nothing.
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1000).max(300_000).default(66_000),
  // How long /readyz waits for PostgreSQL and Redis before it answers 503: a hung dependency must not hang the probe.
  READINESS_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(2_000),
  // The worker's probes and metrics (/healthz, /readyz, /metrics); unset: the worker serves no HTTP. 0 picks a free port.
  WORKER_HTTP_PORT: z.coerce.number().int().min(0).max(65535).optional(),
}).superRefine((env, ctx) => {
  if (env.HTTP_HEADERS_TIMEOUT_MS <= env.HTTP_KEEP_ALIVE_TIMEOUT_MS) {
    ctx.addIssue({
      code: 'custom',
      path: ['HTTP_HEADERS_TIMEOUT_MS'],
      message:
        `must be above HTTP_KEEP_ALIVE_TIMEOUT_MS (${env.HTTP_KEEP_ALIVE_TIMEOUT_MS} ms): a reused connection's next request ` +
        `would otherwise be cut off by the headers timeout before the keep-alive timeout closes it cleanly`,
    });
  }
  if (env.NODE_ENV === 'production') {
    for (const [variable, secret] of placeholderSecrets(env)) {
      ctx.addIssue({
        code: 'custom',
        path: [variable],
        message: `holds ${secret} that is still a placeholder from .env.example ("${PLACEHOLDER_PREFIX}…"); NODE_ENV=production needs a real secret`,
      });
    }
  }
  const longestLockWait = env.DB_LOCK_TIMEOUT_MS * GIVE_UP_LOCK_PATIENCE;
  if (env.DB_STATEMENT_TIMEOUT_MS <= longestLockWait) {
    ctx.addIssue({
      code: 'custom',
      path: ['DB_STATEMENT_TIMEOUT_MS'],
      message:
        `must be above DB_LOCK_TIMEOUT_MS × ${GIVE_UP_LOCK_PATIENCE} (${longestLockWait} ms): the worker waits that long for a row lock ` +
        `when it records a failed retirement; raise it or lower DB_LOCK_TIMEOUT_MS`,
    });
  }
});

export type Env = z.infer<typeof envSchema>;

/** How every value in .env.example starts: a known string, so never a secret. */
const PLACEHOLDER_PREFIX = 'replace-me';

function passwordOf(url: string | undefined): string {
  if (!url) return '';
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}

/** Settings whose secret is still .env.example's placeholder: [variable, what it is]. */
function placeholderSecrets(env: {
  ADMIN_API_KEY?: string | undefined;
  LEDGER_API_KEY?: string | undefined;
  DATABASE_URL?: string | undefined;
  MIGRATION_DATABASE_URL?: string | undefined;
  REDIS_URL?: string | undefined;
}): [string, string][] {
  const found: [string, string][] = [];
  for (const name of ['ADMIN_API_KEY', 'LEDGER_API_KEY'] as const) {
    if (env[name]?.startsWith(PLACEHOLDER_PREFIX)) found.push([name, 'a key']);
  }
  for (const name of ['DATABASE_URL', 'MIGRATION_DATABASE_URL', 'REDIS_URL'] as const) {
    if (passwordOf(env[name]).startsWith(PLACEHOLDER_PREFIX)) found.push([name, 'a password']);
  }
  return found;
}

/**
 * Every secret this process was configured with, as its logs must never show
 * them: keys and the passwords inside the service URLs (see logger.ts).
 */
export function secretsOf(env: Env): string[] {
  const values = [env.ADMIN_API_KEY, env.LEDGER_API_KEY, ...[env.DATABASE_URL, env.MIGRATION_DATABASE_URL, env.REDIS_URL].map(passwordOf)];
  return values.filter((v): v is string => Boolean(v));
}

/** A setting that does not parse; `variable` is its name. */
export type EnvIssue = { variable: string; message: string };

export class InvalidEnvError extends Error {
  constructor(readonly issues: EnvIssue[]) {
    super(`invalid environment:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}`);
    this.name = 'InvalidEnvError';
  }
}

/**
 * Parsed once at start-up; a bad setting stops the process with the variable's
 * name. A variable set to the empty string counts as unset: compose and .env
 * files write `NAME=` for "not given".
 */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const given = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ''));
  const parsed = envSchema.safeParse(given);
  if (!parsed.success) throw new InvalidEnvError(parsed.error.issues.map((i) => ({ variable: i.path.join('.'), message: i.message })));
  return parsed.data;
}

export function requireUrl(env: Env, name: 'DATABASE_URL' | 'REDIS_URL'): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set (npm start sets it for you; npm run server/worker need it)`);
  return value;
}

/** Where migrations run: MIGRATION_DATABASE_URL (the owner role), else DATABASE_URL. */
export function migrationUrl(env: Env): string {
  const value = env.MIGRATION_DATABASE_URL ?? env.DATABASE_URL;
  if (!value) throw new Error('MIGRATION_DATABASE_URL (the owner role, ledger_owner) or DATABASE_URL must be set to migrate');
  return value;
}

export const rateLimitSettings = (env: Env) => ({
  windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS,
  callsPerWindow: {
    issuer: env.RATE_LIMIT_ISSUER,
    retirer: env.RATE_LIMIT_RETIRER,
    auditor: env.RATE_LIMIT_AUDITOR,
    admin: env.RATE_LIMIT_ADMIN,
    anonymous: env.RATE_LIMIT_ANONYMOUS,
  },
});
