import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { cliEnv, generatedCredit, runCli } from '../helpers/cli-run.js';

/*
 * `admin keys`: a key made by the CLI carries exactly its role's rights, and
 * a key revoked by the CLI is refused from then on.
 */

type KeyView = { id: string; name: string; role: string; createdAt: string; createdBy: string; revokedAt: string | null };

let app: TestApp;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  app = await startTestApp();
  env = cliEnv(app);
});

afterAll(async () => {
  await app?.close();
});

/** The tRPC error code a call fails with, or 'OK'. */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'OK';
  } catch (err) {
    if (err instanceof TRPCClientError) return String((err.data as { code?: string } | undefined)?.code);
    throw err;
  }
}

async function createKey(role: string, name: string) {
  const r = await runCli(['keys', 'create', '--role', role, '--name', name, '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return r.json<{ ok: boolean; key: string; apiKey: KeyView }>();
}

describe('admin keys', () => {
  it('creates an issuer key that may create credits and nothing else', async () => {
    const { key, apiKey } = await createKey('issuer', 'registry sync');
    expect(apiKey).toMatchObject({ role: 'issuer', name: 'registry sync', revokedAt: null });
    expect(key).toMatch(/^ccl_/);
    const issuer = app.client(key);
    const created = await issuer.credits.create.mutate(generatedCredit('KEYS', 1));
    expect(created.created).toBe(true);
    expect(await outcome(issuer.credits.list.query({}))).toBe('FORBIDDEN');
    expect(await outcome(issuer.credits.retire.mutate({ id: created.credit.id, beneficiary: 'X' }))).toBe('FORBIDDEN');
    expect(await outcome(issuer.keys.list.query())).toBe('FORBIDDEN');
    expect(await outcome(issuer.events.list.query({}))).toBe('FORBIDDEN');
  });

  it('creates an auditor key that may read and nothing else, and lists it', async () => {
    const { key, apiKey } = await createKey('auditor', 'Q3 audit');
    const auditor = app.client(key);
    expect(await outcome(auditor.credits.list.query({}))).toBe('OK');
    expect(await outcome(auditor.events.list.query({}))).toBe('OK');
    expect(await outcome(auditor.credits.create.mutate(generatedCredit('KEYS', 2)))).toBe('FORBIDDEN');
    expect(await outcome(auditor.keys.create.mutate({ role: 'admin', name: 'escalate' }))).toBe('FORBIDDEN');

    const list = await runCli(['keys', 'list', '--json'], env);
    expect(list.code).toBe(0);
    expect(list.json<{ keys: KeyView[] }>().keys).toContainEqual(apiKey);
    const human = await runCli(['keys', 'list'], env);
    expect(human.stdout).toMatch(new RegExp(`^${apiKey.id}\\s+auditor\\s+Q3 audit\\s`, 'm'));
  });

  it('revokes a key: the next request with it is UNAUTHORIZED', async () => {
    const { key, apiKey } = await createKey('auditor', 'short-lived');
    const client = app.client(key);
    expect(await outcome(client.credits.list.query({}))).toBe('OK');

    const revoked = await runCli(['keys', 'revoke', apiKey.id, '--json'], env);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.json<{ apiKey: KeyView }>().apiKey.revokedAt).not.toBeNull();
    expect(await outcome(client.credits.list.query({}))).toBe('UNAUTHORIZED');

    const active = await runCli(['keys', 'list', '--active', '--json'], env);
    expect(active.json<{ keys: KeyView[] }>().keys.map((k) => k.id)).not.toContain(apiKey.id);
    const all = await runCli(['keys', 'list', '--json'], env);
    expect(all.json<{ keys: KeyView[] }>().keys.find((k) => k.id === apiKey.id)?.revokedAt).toBe(revoked.json<{ apiKey: KeyView }>().apiKey.revokedAt);
  });

  it('prints a new key once, in plain words, and says so', async () => {
    const r = await runCli(['keys', 'create', '--role', 'retirer', '--name', 'desk'], env);
    expect(r.code).toBe(0);
    const key = /^key: (ccl_\S+)$/m.exec(r.stdout)?.[1];
    expect(key).toBeDefined();
    expect(await outcome(app.client(key ?? '').credits.retirementStatus.query({ id: `cc_${'0'.repeat(64)}` }))).toBe('NOT_FOUND');
    expect(r.stdout).toContain('cannot be shown again');
  });

  it('exits 1 for an unknown key ID and 2 for a bad role, a bad ID or a refused admin key', async () => {
    expect((await runCli(['keys', 'revoke', 'key_0123456789abcdef'], env)).code).toBe(1);
    expect((await runCli(['keys', 'revoke', 'not-a-key'], env)).code).toBe(2);
    const badRole = await runCli(['keys', 'create', '--role', 'superuser', '--name', 'x'], env);
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toContain('--role must be one of issuer, retirer, auditor, admin');
    const refused = await runCli(['keys', 'list'], { ...env, LEDGER_API_KEY: 'ccl_not-a-real-key' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('the API refused the key');
    // A non-admin key is told it is not enough.
    const { key } = await createKey('auditor', 'not an admin');
    const forbidden = await runCli(['keys', 'list', '--api-key', key], env);
    expect(forbidden.code).toBe(2);
    expect(forbidden.stderr).toContain('needs an admin key');
  });
});

describe('admin keys audit, and retiring the bootstrap key', () => {
  // Last in this file: it revokes the bootstrap key the tests above run with.
  it('lists who created and revoked which key; the bootstrap key is revoked by a stored admin key, then refused', async () => {
    const { key: adminKey, apiKey: admin } = await createKey('admin', 'ops lead');
    const { apiKey: temp } = await createKey('auditor', 'audited');
    expect((await runCli(['keys', 'revoke', temp.id, '--api-key', adminKey], env)).code).toBe(0);

    const audit = await runCli(['keys', 'audit', '--json', '--limit', '500'], env);
    expect(audit.code, audit.stderr).toBe(0);
    const entries = audit.json<{ entries: { action: string; keyId: string; actor: string }[] }>().entries;
    expect(entries).toContainEqual(expect.objectContaining({ action: 'created', keyId: admin.id, actor: 'key_bootstrap_admin' }));
    expect(entries).toContainEqual(expect.objectContaining({ action: 'created', keyId: temp.id, actor: 'key_bootstrap_admin' }));
    expect(entries).toContainEqual(expect.objectContaining({ action: 'revoked', keyId: temp.id, actor: admin.id }));
    const human = await runCli(['keys', 'audit'], env);
    expect(human.stdout).toMatch(new RegExp(`\\srevoked\\s+${temp.id}\\s+auditor\\s+audited\\s+${admin.id}$`, 'm'));
    const paged = await runCli(['keys', 'audit', '--limit', '1', '--json'], env);
    const page = paged.json<{ entries: unknown[]; nextCursor: string | null }>();
    expect(page.entries).toHaveLength(1);
    expect(page.nextCursor).toMatch(/^\d+$/);
    expect((await runCli(['keys', 'audit', '--after', 'x'], env)).code).toBe(2);

    const retired = await runCli(['keys', 'revoke', 'key_bootstrap_admin', '--api-key', adminKey, '--json'], env);
    expect(retired.code, retired.stderr).toBe(0);
    expect(retired.json<{ apiKey: KeyView }>().apiKey).toMatchObject({ id: 'key_bootstrap_admin', role: 'admin' });
    const refused = await runCli(['keys', 'list'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('the API refused the key');
    expect((await runCli(['keys', 'list', '--api-key', adminKey], env)).code).toBe(0);
  });
});
