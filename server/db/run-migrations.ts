import { loadEnv, requireUrl } from '../env.js';
import { migrate } from './migrate.js';

/** `npm run migrate`: applies committed migrations to DATABASE_URL. */
const applied = await migrate(requireUrl(loadEnv(), 'DATABASE_URL'));
console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database schema is up to date');
