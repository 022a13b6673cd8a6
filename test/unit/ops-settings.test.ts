import { describe, expect, it } from 'vitest';
import { loadEnv, placeholderSecrets, secretsOf } from '../../server/env.js';
import { refusedSettings } from '../helpers/env-refusal.js';

describe('probe, metrics and HTTP settings', () => {
  it('defaults: keep-alive 65 s and headers 66 s (above a 60 s load balancer), readiness 2 s, no worker port', () => {
    const env = loadEnv({});
    expect(env.HTTP_KEEP_ALIVE_TIMEOUT_MS).toBe(65_000);
    expect(env.HTTP_HEADERS_TIMEOUT_MS).toBe(66_000);
    expect(env.READINESS_TIMEOUT_MS).toBe(2_000);
    expect(env.WORKER_HTTP_PORT).toBeUndefined();
  });

  it('takes valid values', () => {
    const env = loadEnv({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '120000', HTTP_HEADERS_TIMEOUT_MS: '121000', READINESS_TIMEOUT_MS: '500', WORKER_HTTP_PORT: '9464' });
    expect([env.HTTP_KEEP_ALIVE_TIMEOUT_MS, env.HTTP_HEADERS_TIMEOUT_MS, env.READINESS_TIMEOUT_MS, env.WORKER_HTTP_PORT]).toEqual([120_000, 121_000, 500, 9464]);
    expect(loadEnv({ WORKER_HTTP_PORT: '0' }).WORKER_HTTP_PORT).toBe(0);
  });

  it.each([
    ['WORKER_HTTP_PORT', '65536'],
    ['WORKER_HTTP_PORT', 'metrics'],
    ['WORKER_HTTP_PORT', '-1'],
    ['READINESS_TIMEOUT_MS', '50'],
    ['READINESS_TIMEOUT_MS', '60000'],
    ['HTTP_KEEP_ALIVE_TIMEOUT_MS', '999'],
    ['HTTP_KEEP_ALIVE_TIMEOUT_MS', '1.5'],
    ['HTTP_HEADERS_TIMEOUT_MS', '300001'],
  ])('refuses %s=%s, naming it', (variable, value) => {
    const issues = refusedSettings({ [variable]: value });
    expect(issues.map((i) => i.variable)).toContain(variable);
  });

  it('refuses a headers timeout at or below the keep-alive timeout, naming HTTP_HEADERS_TIMEOUT_MS', () => {
    expect(refusedSettings({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '70000' })).toEqual([
      { variable: 'HTTP_HEADERS_TIMEOUT_MS', message: expect.stringContaining('must be above HTTP_KEEP_ALIVE_TIMEOUT_MS (70000 ms)') as unknown },
    ]);
    expect(refusedSettings({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '5000', HTTP_HEADERS_TIMEOUT_MS: '5000' })[0]?.variable).toBe('HTTP_HEADERS_TIMEOUT_MS');
  });
});

describe('no placeholder secrets in production', () => {
  const placeholders = {
    ADMIN_API_KEY: 'replace-me-with-a-random-admin-key-0000000000',
    DATABASE_URL: 'postgres://ledger_app:replace-me-ledger-app-password@db:5432/ledger',
    REDIS_URL: 'redis://:replace-me-redis-password@redis:6379',
  };

  it(".env.example's placeholders stop a NODE_ENV=production process, naming each variable", () => {
    expect(refusedSettings({ ...placeholders, NODE_ENV: 'production' }).map((i) => i.variable)).toEqual(['ADMIN_API_KEY', 'DATABASE_URL', 'REDIS_URL']);
    expect(refusedSettings({ MIGRATION_DATABASE_URL: placeholders.DATABASE_URL, NODE_ENV: 'production' })[0]?.message).toMatch(/placeholder from \.env\.example/);
  });

  it(".env.example's signing key (a valid Ed25519 JWK whose private part spells the placeholder) is one of them", () => {
    const exampleKey = '{"kty":"OKP","crv":"Ed25519","d":"replace-me-ledger-signing-key-example-00000","x":"LD7V1zCFGPyK7eZ_6AbAEEGTYV-EpZbowGnfJ3hm7Gg"}';
    expect(refusedSettings({ LEDGER_SIGNING_KEY: exampleKey, NODE_ENV: 'production' }).map((i) => i.variable)).toEqual(['LEDGER_SIGNING_KEY']);
    expect(loadEnv({ LEDGER_SIGNING_KEY: exampleKey }).LEDGER_SIGNING_KEY).toBe(exampleKey);
  });

  it('ALLOW_PLACEHOLDER_SECRETS=true (a first look, as .env.example sets it) lets production start with them; placeholderSecrets still names each', () => {
    const env = loadEnv({ ...placeholders, NODE_ENV: 'production', ALLOW_PLACEHOLDER_SECRETS: 'true' });
    expect(placeholderSecrets(env).map(([variable]) => variable)).toEqual(['ADMIN_API_KEY', 'DATABASE_URL', 'REDIS_URL']);
    expect(loadEnv({}).ALLOW_PLACEHOLDER_SECRETS).toBe(false);
  });

  it('are accepted outside production, and real secrets are accepted in production', () => {
    expect(loadEnv(placeholders).ADMIN_API_KEY).toBe(placeholders.ADMIN_API_KEY);
    const real = { ADMIN_API_KEY: 'f'.repeat(48), DATABASE_URL: 'postgres://ledger_app:9c1d0e@db/ledger', REDIS_URL: 'redis://:77aa@redis:6379', NODE_ENV: 'production' };
    expect(loadEnv(real).NODE_ENV).toBe('production');
  });

  it("secretsOf lists the keys and the URLs' passwords (decoded), for the logger to scrub", () => {
    const env = loadEnv({ ADMIN_API_KEY: 'a'.repeat(30), DATABASE_URL: 'postgres://ledger_app:p%40ss@db/ledger', REDIS_URL: 'redis://:r3dis@redis:6379', MIGRATION_DATABASE_URL: 'postgres://owner@db/ledger' });
    expect(secretsOf(env)).toEqual(['a'.repeat(30), 'p@ss', 'r3dis']);
  });
});
