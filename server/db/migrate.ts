import type { EntityManager } from '@mikro-orm/postgresql';
import { initOrm } from './orm.js';

/**
 * Applies every pending migration; safe to run repeatedly and concurrently.
 * `databaseUrl` must log in as the schema's owner (ledger_owner); migrations
 * run without the app's statement_timeout.
 */
export async function migrate(databaseUrl: string): Promise<string[]> {
  const orm = await initOrm(databaseUrl, { poolMax: 2, statementTimeoutMs: null });
  try {
    const em = orm.em.fork();
    // Two processes starting together must not both apply the same migration.
    return await em.transactional(async (tx) => {
      await tx.getConnection().execute('select pg_advisory_xact_lock(7260111)');
      await mayRecordMigrations(tx);
      const applied = await orm.getMigrator().up();
      return applied.map((m) => m.name);
    });
  } catch (err) {
    throw migrationError(err, databaseUrl);
  } finally {
    await orm.close(true);
  }
}

/**
 * The app's role may read mikro_orm_migrations (for /readyz), so with nothing
 * pending MikroORM would report success to it: asked first, whether this role
 * may record a migration (or create the table), the wrong role fails even then.
 */
async function mayRecordMigrations(tx: EntityManager): Promise<void> {
  const [row] = await tx.getConnection().execute<{ may: boolean }[]>(
    `select case when to_regclass('mikro_orm_migrations') is null then has_schema_privilege(current_schema(), 'CREATE')
            else has_table_privilege(to_regclass('mikro_orm_migrations'), 'INSERT') end as may`,
  );
  if (!row?.may) throw Object.assign(new Error('permission denied to record a migration in mikro_orm_migrations'), { code: '42501' });
}

/** A migration failure as one line: what PostgreSQL said, and what to do about missing rights. */
class MigrationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

function migrationError(err: unknown, databaseUrl: string): MigrationError {
  const root = rootCause(err);
  const sqlState = (root as { code?: unknown }).code;
  // PostgreSQL's own message, without the failed SQL MikroORM prepends to it.
  const said = (root.message.split(' - ').at(-1) ?? root.message).split('\n')[0]?.trim() ?? root.message;
  if (sqlState === '42501') {
    return new MigrationError(
      `migrations need the role that owns the schema, but ${roleOf(databaseUrl)} may not change it (${said}): ` +
        `set MIGRATION_DATABASE_URL to the owner role (ledger_owner), see README "Database roles"`,
      { cause: err },
    );
  }
  return new MigrationError(`migration failed as ${roleOf(databaseUrl)}: ${said}`, { cause: err });
}

function rootCause(err: unknown): Error {
  let current: unknown = err;
  for (let depth = 0; depth < 10; depth++) {
    const next = (current as { cause?: unknown } | null)?.cause;
    if (!(next instanceof Error)) break;
    current = next;
  }
  return current instanceof Error ? current : new Error(String(current));
}

function roleOf(databaseUrl: string): string {
  try {
    const user = decodeURIComponent(new URL(databaseUrl).username);
    return user ? `role "${user}"` : 'the default role';
  } catch {
    return 'this role';
  }
}
