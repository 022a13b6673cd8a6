import { InvalidEnvError, loadEnv, type Env } from '../env.js';
import { CliError } from './errors.js';

/** Options every command accepts (declared once on the program). */
export type GlobalOptions = { url?: string; apiKey?: string };

export const DEFAULT_LEDGER_URL = 'http://127.0.0.1:3000';

export type ApiConfig = { url: string; apiKey: string };

/**
 * The environment as the API and worker read it (server/env.ts), read when a
 * command needs it so that --help works whatever is set. A bad value is a
 * usage error naming the variable.
 */
function settings(source: NodeJS.ProcessEnv): Env {
  try {
    return loadEnv(source);
  } catch (err) {
    if (err instanceof InvalidEnvError) throw new CliError(`invalid environment: ${err.issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`);
    throw err;
  }
}

/** Every setting, checked (a bad value is a usage error naming it): for commands that need more than a URL. */
export const environment = (source: NodeJS.ProcessEnv = process.env): Env => settings(source);

/** What the settings are when nothing is set, for help texts. */
export const ENV_DEFAULTS: Env = loadEnv({});

/** --url / LEDGER_URL, and --api-key / LEDGER_API_KEY / ADMIN_API_KEY. */
export function apiConfig(opts: GlobalOptions, source: NodeJS.ProcessEnv = process.env): ApiConfig {
  const env = settings(source);
  const url = opts.url ?? env.LEDGER_URL ?? DEFAULT_LEDGER_URL;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new CliError(`ledger URL ${JSON.stringify(url)} is not an http(s) URL (--url or LEDGER_URL)`);
  }
  const apiKey = opts.apiKey ?? (env.LEDGER_API_KEY || env.ADMIN_API_KEY);
  if (!apiKey) throw new CliError('no API key: pass --api-key or set LEDGER_API_KEY (or ADMIN_API_KEY) to an admin key');
  return { url, apiKey };
}

export function databaseUrl(source: NodeJS.ProcessEnv = process.env): string {
  const url = settings(source).DATABASE_URL;
  if (!url) throw new CliError('DATABASE_URL is not set: this command reads PostgreSQL directly');
  return url;
}

export type QueueConfig = { redisUrl: string; prefix: string; attempts: number };

export function queueConfig(source: NodeJS.ProcessEnv = process.env): QueueConfig {
  const env = settings(source);
  if (!env.REDIS_URL) throw new CliError('REDIS_URL is not set: this command reads the retirement queue directly');
  return { redisUrl: env.REDIS_URL, prefix: env.QUEUE_PREFIX, attempts: env.RETIREMENT_MAX_ATTEMPTS };
}

/** How long rebuild-projections waits for one credit's row lock (DB_LOCK_TIMEOUT_MS, as the worker). */
export const lockTimeoutMs = (source: NodeJS.ProcessEnv = process.env): number => settings(source).DB_LOCK_TIMEOUT_MS;

/** PostgreSQL's statement_timeout on the script's connections (DB_STATEMENT_TIMEOUT_MS, as the API and worker). */
export const statementTimeoutMs = (source: NodeJS.ProcessEnv = process.env): number => settings(source).DB_STATEMENT_TIMEOUT_MS;

/** Commander argument parsers that fail as usage errors. */
export function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new CliError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}
