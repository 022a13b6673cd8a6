import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import { secretScrubber } from './ops/redaction.js';

export type { Logger };

export type LoggerOptions = {
  /** Values that must never appear in a log line, whatever logged them (see secretsOf in env.ts). */
  secrets?: readonly string[];
  /** Where lines go; stdout by default. Tests capture them here. */
  destination?: DestinationStream;
};

/*
 * Headers that carry credentials are removed by path before a line is
 * serialised; scrubSecrets then catches what paths cannot: the configured
 * secrets and anything shaped like a key or a URL's password, inside error
 * messages and objects a library attached to an error (ioredis keeps AUTH's
 * arguments on its ReplyError, for one).
 */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers["x-api-key"]',
];

/**
 * One structured JSON logger per process. On a terminal in development the
 * lines are prettified with pino-pretty (a devDependency: the production image
 * has none, and NODE_ENV=production never asks for it).
 */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info', opts: LoggerOptions = {}): Logger {
  const scrub = secretScrubber(opts.secrets ?? []);
  return pino(
    {
      name,
      level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      hooks: { streamWrite: scrub },
    },
    opts.destination ?? prettyStdout() ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** pino-pretty writing to stdout, when it is wanted and installed; otherwise undefined (JSON lines). */
function prettyStdout(): DestinationStream | undefined {
  if (!process.stdout.isTTY || process.env.NODE_ENV === 'production') return undefined;
  try {
    // Required lazily so that nothing outside development ever loads it.
    const pretty = createRequire(import.meta.url)('pino-pretty') as (opts: object) => DestinationStream;
    return pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' });
  } catch {
    return undefined;
  }
}
