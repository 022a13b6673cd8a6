import { describe, expect, it } from 'vitest';
import { loadEnv, migrationUrl } from '../../server/env.js';
import { refusedSettings } from '../helpers/env-refusal.js';

describe('database settings', () => {
  it('DB_STATEMENT_TIMEOUT_MS defaults to 60 s, above the default DB_LOCK_TIMEOUT_MS × 10', () => {
    const env = loadEnv({});
    expect(env.DB_STATEMENT_TIMEOUT_MS).toBe(60_000);
    expect(env.DB_LOCK_TIMEOUT_MS).toBe(5_000);
  });

  it('refuses a statement timeout at or below the longest row-lock wait, naming the variable and the limit', () => {
    expect(refusedSettings({ DB_LOCK_TIMEOUT_MS: '6000' })).toEqual([
      { variable: 'DB_STATEMENT_TIMEOUT_MS', message: expect.stringContaining('must be above DB_LOCK_TIMEOUT_MS × 10 (60000 ms)') as unknown },
    ]);
    expect(refusedSettings({ DB_LOCK_TIMEOUT_MS: '1000', DB_STATEMENT_TIMEOUT_MS: '10000' })[0]?.variable).toBe('DB_STATEMENT_TIMEOUT_MS');
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

describe('REST facade settings', () => {
  it('REST_RETIRE_WAIT_MS defaults to 1.5 s, accepts 0 (answer 202 at once) and refuses waits that would hold requests open', () => {
    expect(loadEnv({}).REST_RETIRE_WAIT_MS).toBe(1500);
    expect(loadEnv({ REST_RETIRE_WAIT_MS: '0' }).REST_RETIRE_WAIT_MS).toBe(0);
    expect(() => loadEnv({ REST_RETIRE_WAIT_MS: '10001' })).toThrow(/REST_RETIRE_WAIT_MS: Too big/);
    expect(() => loadEnv({ REST_RETIRE_WAIT_MS: '-1' })).toThrow(/REST_RETIRE_WAIT_MS/);
    expect(() => loadEnv({ REST_RETIRE_WAIT_MS: 'soon' })).toThrow(/REST_RETIRE_WAIT_MS/);
  });
});

describe('queue prefix', () => {
  it('takes a plain name or one Redis Cluster hash tag in braces, and nothing else', () => {
    expect(loadEnv({}).QUEUE_PREFIX).toBe('ledger');
    expect(loadEnv({ QUEUE_PREFIX: 'ledger-eu_2' }).QUEUE_PREFIX).toBe('ledger-eu_2');
    expect(loadEnv({ QUEUE_PREFIX: '{ledger}' }).QUEUE_PREFIX).toBe('{ledger}');
    for (const bad of ['{ledger', 'ledger}', '{}', 'a{b}', '{a}{b}', 'led ger', 'ledger:x']) {
      expect(() => loadEnv({ QUEUE_PREFIX: bad }), bad).toThrow(/QUEUE_PREFIX/);
    }
  });
});
