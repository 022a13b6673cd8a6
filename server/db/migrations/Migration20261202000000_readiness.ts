import { Migration } from '@mikro-orm/migrations';

/**
 * /readyz, in the API and the worker, compares the migrations the code knows
 * with those applied, reading mikro_orm_migrations as the app's role. The
 * least-privilege migration took every right on it away; reading which
 * migrations ran reveals nothing, and the app still may not change it.
 */
export class Migration20261202000000_readiness extends Migration {
  override up(): void {
    this.addSql(`grant select on mikro_orm_migrations to ledger_app`);
  }
}
