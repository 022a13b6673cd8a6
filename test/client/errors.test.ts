import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLedgerClient,
  isAlreadyRetired,
  isBadRequest,
  isBusy,
  isConflict,
  isForbidden,
  isInternal,
  isNetworkError,
  isNotFound,
  isPayloadTooLarge,
  isUnauthorized,
  ledgerError,
  ledgerErrorOf,
  type LedgerError,
  type LedgerErrorKind,
} from '../../client/index.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

/** The error a call rejects with; fails the test if the call succeeds. */
async function rejectionOf(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Narrows to one kind, failing with the whole classification when it is another. */
function expectKind<K extends LedgerErrorKind>(err: unknown, kind: K): Extract<LedgerError, { kind: K }> {
  const e = ledgerError(err);
  expect(e.kind, `classified as ${e.kind}: ${e.message}`).toBe(kind);
  const narrowed = ledgerErrorOf(err, kind);
  if (!narrowed) throw new Error(`not ${kind}`);
  return narrowed;
}

const GUARDS = {
  NOT_FOUND: isNotFound,
  CONFLICT: isConflict,
  BAD_REQUEST: isBadRequest,
  UNAUTHORIZED: isUnauthorized,
  FORBIDDEN: isForbidden,
  PAYLOAD_TOO_LARGE: isPayloadTooLarge,
  BUSY: isBusy,
  INTERNAL: isInternal,
  NETWORK: isNetworkError,
} satisfies Record<LedgerErrorKind, (err: unknown) => boolean>;

/** Exactly the guard of `kind` says yes. */
function expectOnlyGuard(err: unknown, kind: LedgerErrorKind): void {
  const yes = Object.entries(GUARDS)
    .filter(([, guard]) => guard(err))
    .map(([k]) => k);
  expect(yes).toEqual([kind]);
}

const credit = (n: number) => ({
  projectName: `Errors Project ${n}`,
  registry: 'Gold Standard',
  vintage: 2021,
  quantity: '100',
  serialNumber: `GS-ERR-${n}`,
});

const MISSING_ID = `cc_${'0'.repeat(64)}`;

/** A loopback port nothing listens on: bound once by us, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

describe('ledgerError against the real API', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('NOT_FOUND: an unknown credit, with the domain code', async () => {
    const err = await rejectionOf(app.admin.credits.get.query({ id: MISSING_ID }));
    const e = expectKind(err, 'NOT_FOUND');
    expect(e.domainCode).toBe('CREDIT_NOT_FOUND');
    expect(e.httpStatus).toBe(404);
    expect(e.path).toBe('credits.get');
    expect(e.message).toContain(MISSING_ID);
    expectOnlyGuard(err, 'NOT_FOUND');
  });

  it('CONFLICT on create: another credit holds the serial, and its ID comes back', async () => {
    const first = await app.admin.credits.create.mutate(credit(1));
    const err = await rejectionOf(app.admin.credits.create.mutate({ ...credit(1), projectName: 'Someone else' }));
    const e = expectKind(err, 'CONFLICT');
    expect(e.details.existingId).toBe(first.credit.id);
    expect(e.httpStatus).toBe(409);
    expectOnlyGuard(err, 'CONFLICT');
    expect(isAlreadyRetired(err)).toBe(false);
  });

  it('CONFLICT on retire: a different request is pending, and which fields differ', async () => {
    const { credit: c } = await app.admin.credits.create.mutate(credit(2));
    await app.admin.credits.retire.mutate({ id: c.id, beneficiary: 'Acme Ltd', reason: 'FY2024 offset' });
    const err = await rejectionOf(app.admin.credits.retire.mutate({ id: c.id, beneficiary: 'Other Corp', reason: 'FY2024 offset' }));
    const e = expectKind(err, 'CONFLICT');
    expect(e.domainCode).toBe('RETIREMENT_PENDING_DIFFERS');
    expect(e.details.differingFields).toEqual(['beneficiary']);
    expect(e.details.pending).toEqual({ beneficiary: 'Acme Ltd', reason: 'FY2024 offset' });
    expect(e.details.existingId).toBeUndefined();
    expectOnlyGuard(err, 'CONFLICT');
  });

  it('BAD_REQUEST: each invalid field by its path', async () => {
    const err = await rejectionOf(app.admin.credits.create.mutate({ ...credit(3), projectName: '   ', vintage: 1800, quantity: '-5' }));
    const e = expectKind(err, 'BAD_REQUEST');
    expect(e.httpStatus).toBe(400);
    expect(e.issues.map((i) => i.path).sort()).toEqual(['projectName', 'quantity', 'vintage']);
    expect(e.issues.find((i) => i.path === 'vintage')?.message).toMatch(/^vintage must be between 1990 and \d{4}/);
    expect(e.issues.find((i) => i.path === 'projectName')?.message).toBe('projectName must not be empty');
    expectOnlyGuard(err, 'BAD_REQUEST');
  });

  it('BAD_REQUEST: a query input out of range', async () => {
    const err = await rejectionOf(app.admin.credits.list.query({ limit: 0 }));
    const e = expectKind(err, 'BAD_REQUEST');
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0]?.path).toBe('limit');
    expect(e.path).toBe('credits.list');
  });

  it('UNAUTHORIZED: a key the ledger does not know', async () => {
    const err = await rejectionOf(app.client('not-a-real-key').credits.list.query({}));
    const e = expectKind(err, 'UNAUTHORIZED');
    expect(e.httpStatus).toBe(401);
    expect(e.message).toBe('API key is unknown or revoked');
    expectOnlyGuard(err, 'UNAUTHORIZED');
  });

  it('FORBIDDEN: an auditor creating a credit', async () => {
    const { client: auditor } = await app.as('auditor');
    const err = await rejectionOf(auditor.credits.create.mutate(credit(4)));
    const e = expectKind(err, 'FORBIDDEN');
    expect(e.httpStatus).toBe(403);
    expect(e.message).toContain("role 'auditor' may not create");
    expectOnlyGuard(err, 'FORBIDDEN');
    // The auditor may still read: the key itself is fine.
    await expect(auditor.credits.list.query({})).resolves.toMatchObject({ nextCursor: null });
  });

  it('PAYLOAD_TOO_LARGE: a body over the server limit', async () => {
    const err = await rejectionOf(app.admin.credits.create.mutate({ ...credit(5), projectName: 'x'.repeat(2 * 1024 * 1024) }));
    const e = expectKind(err, 'PAYLOAD_TOO_LARGE');
    expect(e.httpStatus).toBe(413);
    expectOnlyGuard(err, 'PAYLOAD_TOO_LARGE');
  });

  it('NETWORK: nothing listening at the URL', async () => {
    const port = await closedPort();
    const offline = createLedgerClient({ url: `http://127.0.0.1:${port}`, apiKey: 'irrelevant' });
    const err = await rejectionOf(offline.credits.list.query({}));
    const e = ledgerError(err);
    expect(e.kind).toBe('NETWORK');
    expect(e.message).not.toBe('');
    expect(e.cause).toBe(err);
    expectOnlyGuard(err, 'NETWORK');
  });

  it('INTERNAL without a code: an error that never came from the ledger', () => {
    const bug = new TypeError('x is not a function');
    const e = ledgerError(bug);
    expect(e).toEqual({ kind: 'INTERNAL', message: 'x is not a function', cause: bug });
    expectOnlyGuard(bug, 'INTERNAL');
    expect(ledgerError('thrown string')).toMatchObject({ kind: 'INTERNAL', message: 'thrown string' });
  });
});
