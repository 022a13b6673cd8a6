import { Migration } from '@mikro-orm/migrations';

/**
 * credits.list's projectName filter is a case-insensitive substring match
 * (ILIKE '%…%'), which no b-tree can serve: a trigram index lets PostgreSQL
 * find the matching rows without reading the whole table. pg_trgm is a trusted
 * extension, so the database owner may create it.
 */
export class Migration20261201000100_project_name_search extends Migration {
  override up(): void {
    this.addSql(`create extension if not exists pg_trgm`);
    this.addSql(`create index credits_project_name_trgm on credits using gin (project_name gin_trgm_ops)`);
  }
}
