import { CliError } from './errors.js';

/** Options every command accepts (declared once on the program). */
export type GlobalOptions = { url?: string; apiKey?: string };

export const DEFAULT_LEDGER_URL = 'http://127.0.0.1:3000';

export type ApiConfig = { url: string; apiKey: string };

/** --url / LEDGER_URL, and --api-key / LEDGER_API_KEY / ADMIN_API_KEY. */
export function apiConfig(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const url = opts.url ?? nonEmpty(env.LEDGER_URL) ?? DEFAULT_LEDGER_URL;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new CliError(`ledger URL ${JSON.stringify(url)} is not an http(s) URL (--url or LEDGER_URL)`);
  }
  const apiKey = opts.apiKey ?? nonEmpty(env.LEDGER_API_KEY) ?? nonEmpty(env.ADMIN_API_KEY);
  if (!apiKey) throw new CliError('no API key: pass --api-key or set LEDGER_API_KEY (or ADMIN_API_KEY) to an admin key');
  return { url, apiKey };
}

export function databaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = nonEmpty(env.DATABASE_URL);
  if (!url) throw new CliError('DATABASE_URL is not set: this command reads PostgreSQL directly');
  return url;
}

export type QueueConfig = { redisUrl: string; prefix: string; attempts: number };

export function queueConfig(env: NodeJS.ProcessEnv = process.env): QueueConfig {
  const redisUrl = nonEmpty(env.REDIS_URL);
  if (!redisUrl) throw new CliError('REDIS_URL is not set: this command reads the retirement queue directly');
  const prefix = nonEmpty(env.QUEUE_PREFIX) ?? 'ledger';
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new CliError(`QUEUE_PREFIX ${JSON.stringify(prefix)} may only hold letters, digits, _ and -`);
  const attempts = positiveInt(env.RETIREMENT_MAX_ATTEMPTS, 8, 'RETIREMENT_MAX_ATTEMPTS');
  return { redisUrl, prefix, attempts };
}

/** How long rebuild-projections waits for one credit's row lock (DB_LOCK_TIMEOUT_MS, as the worker). */
export const lockTimeoutMs = (env: NodeJS.ProcessEnv = process.env): number => positiveInt(env.DB_LOCK_TIMEOUT_MS, 5000, 'DB_LOCK_TIMEOUT_MS');

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() !== '' ? value : undefined;
}

function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (!nonEmpty(value)) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new CliError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

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
