import { initOrm } from './orm.js';

/** Applies every pending migration; safe to run repeatedly and concurrently. */
export async function migrate(databaseUrl: string): Promise<string[]> {
  const orm = await initOrm(databaseUrl, { poolMax: 2, statementTimeoutMs: null });
  try {
    const em = orm.em.fork();
    // Two processes starting together must not both apply the same migration.
    return await em.transactional(async (tx) => {
      await tx.getConnection().execute('select pg_advisory_xact_lock(7260111)');
      const applied = await orm.getMigrator().up();
      return applied.map((m) => m.name);
    });
  } finally {
    await orm.close(true);
  }
}
