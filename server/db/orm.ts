import { LockWaitTimeoutException, MikroORM } from '@mikro-orm/postgresql';
import { ormConfig, type OrmOptions } from './mikro-orm.config.js';

export type Orm = MikroORM;

export function initOrm(databaseUrl: string, options: OrmOptions): Promise<Orm> {
  return MikroORM.init(ormConfig(databaseUrl, options));
}

/** PostgreSQL gave up waiting for a lock (lock_timeout, SQLSTATE 55P03). */
export const isLockTimeout = (err: unknown): boolean => err instanceof LockWaitTimeoutException || (err as { code?: unknown } | null)?.code === '55P03';
