/**
 * What the local PostgreSQL and Redis launchers share: their options and the
 * limits they wait within. Every server binds to 127.0.0.1 only and
 * requires a password there.
 */

import type { SecretStore } from './secrets.js';

export type Log = (msg: string) => void;

export type ServiceName = 'postgres' | 'redis';

export interface ServiceOptions {
  dataDir: string;
  port?: number;
  log?: Log;
  /** Let the server outlive this Node process (otherwise it is stopped on exit). */
  detach?: boolean;
  /** How long to wait for the server to accept connections. Default 30 s. */
  readyTimeoutMs?: number;
  /**
   * Where the generated passwords live: 'files' (mode 0600 in the data
   * folder, the default: npm start) or 'memory' (this process only: tests).
   */
  secrets?: SecretStore;
}

export const LOOPBACK = '127.0.0.1';
export const DEFAULT_READY_TIMEOUT_MS = 30_000;
export const STOP_TIMEOUT_MS = 60_000;
