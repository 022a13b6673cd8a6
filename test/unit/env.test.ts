import { describe, expect, it } from 'vitest';
import { InvalidEnvError, loadEnv, migrationUrl } from '../../server/env.js';

describe('database settings', () => {
  it('DB_STATEMENT_TIMEOUT_MS defaults to 60 s, above the default DB_LOCK_TIMEOUT_MS × 10', () => {
    const env = loadEnv({});
    expect(env.DB_STATEMENT_TIMEOUT_MS).toBe(60_000);
    expect(env.DB_LOCK_TIMEOUT_MS).toBe(5_000);
  });

  it('refuses a statement timeout at or below the longest row-lock wait, naming the variable and the limit', () => {
    const refused = (source: NodeJS.ProcessEnv) => {
      try {
        loadEnv(source);
      } catch (err) {
        if (err instanceof InvalidEnvError) return err.issues;
      }
      throw new Error('expected the settings to be refused');
    };
    expect(refused({ DB_LOCK_TIMEOUT_MS: '6000' })).toEqual([
      { variable: 'DB_STATEMENT_TIMEOUT_MS', message: expect.stringContaining('must be above DB_LOCK_TIMEOUT_MS × 10 (60000 ms)') as unknown },
    ]);
    expect(refused({ DB_LOCK_TIMEOUT_MS: '1000', DB_STATEMENT_TIMEOUT_MS: '10000' })[0]?.variable).toBe('DB_STATEMENT_TIMEOUT_MS');
    expect(loadEnv({ DB_LOCK_TIMEOUT_MS: '1000', DB_STATEMENT_TIMEOUT_MS: '10001' }).DB_STATEMENT_TIMEOUT_MS).toBe(10_001);
    expect(loadEnv({ DB_LOCK_TIMEOUT_MS: '6000', DB_STATEMENT_TIMEOUT_MS: '120000' }).DB_LOCK_TIMEOUT_MS).toBe(6_000);
  });

  it('migrations use MIGRATION_DATABASE_URL, falling back to DATABASE_URL', () => {
    const app = 'postgres://ledger_app:pw@db/ledger';
    const owner = 'postgres://ledger_owner:pw@db/ledger';
    expect(migrationUrl(loadEnv({ DATABASE_URL: app, MIGRATION_DATABASE_URL: owner }))).toBe(owner);
    expect(migrationUrl(loadEnv({ DATABASE_URL: app }))).toBe(app);
    expect(() => migrationUrl(loadEnv({}))).toThrow(/MIGRATION_DATABASE_URL/);
  });
});

describe('unset settings', () => {
  it('an empty value counts as unset, as compose writes `NAME=` for a variable it was not given', () => {
    const env = loadEnv({ ADMIN_API_KEY: '', PORT: '', DATABASE_URL: '' });
    expect(env.ADMIN_API_KEY).toBeUndefined();
    expect(env.PORT).toBe(3000);
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('a value that is given but wrong is still refused, naming the variable', () => {
    expect(() => loadEnv({ ADMIN_API_KEY: 'short' })).toThrow(/ADMIN_API_KEY: ADMIN_API_KEY must be at least 24 characters/);
  });
});
