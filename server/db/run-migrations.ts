import { loadEnv, migrationUrl } from '../env.js';
import { migrate } from './migrate.js';

/**
 * `npm run migrate`: applies committed migrations as the schema's owner,
 * MIGRATION_DATABASE_URL (falling back to DATABASE_URL). A failure is one line
 * on stderr and exit code 1.
 */
try {
  const applied = await migrate(migrationUrl(loadEnv()));
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database schema is up to date');
} catch (err) {
  console.error(`migrate: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
