import { MikroORM } from '@mikro-orm/postgresql';
import { ormConfig, type OrmOptions } from './mikro-orm.config.js';

export type Orm = MikroORM;

export function initOrm(databaseUrl: string, options: OrmOptions): Promise<Orm> {
  return MikroORM.init(ormConfig(databaseUrl, options));
}
