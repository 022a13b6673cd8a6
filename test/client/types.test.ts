/*
 * Compile-time contract of the typed client. The expectTypeOf assertions and
 * the @ts-expect-error lines are checked by `npm run typecheck` (tsc over
 * test/): an @ts-expect-error whose line compiles is itself an error. The
 * `it` below makes the same calls against the real API and checks that the
 * values at run time are what the types say.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  ledgerError,
  type CancelResult,
  type Credit,
  type CreditLineage,
  type FieldIssue,
  type LedgerClient,
  type LedgerInputs,
  type LedgerOutputs,
  type RetireResult,
  type SplitResult,
  type SupplyTotals,
  type UnitRange,
} from '../../client/index.js';
import type { CheckpointPayload as ServerCheckpointPayload } from '../../server/proofs/checkpoint.js';
import type { RetirementCertificate as ServerRetirementCertificate } from '../../server/proofs/certificate.js';
import type { CheckpointPayload, RetirementCertificate } from '../../client/index.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

type RetirementStatusValue = 'not_requested' | 'queued' | 'processing' | 'retired' | 'failed' | 'cancelled';
type EventType = 'created' | 'split_from' | 'split' | 'retirement_requested' | 'retirement_failed' | 'retired' | 'cancelled';
type LedgerErrorDomainCode = NonNullable<Extract<ReturnType<typeof ledgerError>, { kind: 'CONFLICT' }>['domainCode']>;

const validCredit = {
  projectName: 'Typed Mangroves',
  registry: 'Verra',
  vintage: 2020,
  quantity: '12.5',
  serialNumber: 'VCS-TYPES-0001',
};

/** Never called: these lines exist for the type checker only. Each must fail to compile. */
export function wrongInputsDoNotCompile(client: LedgerClient): void {
  const { registry: _registry, ...withoutRegistry } = validCredit;
  // @ts-expect-error registry is required
  void client.credits.create.mutate(withoutRegistry);
  // @ts-expect-error vintage is a number (only quantity also takes a string)
  void client.credits.create.mutate({ ...validCredit, vintage: '2020' });
  // @ts-expect-error quantity is a number or a decimal string, not a boolean
  void client.credits.create.mutate({ ...validCredit, quantity: true });
  // @ts-expect-error credits are strict objects: no unknown fields
  void client.credits.create.mutate({ ...validCredit, colour: 'green' });
  // @ts-expect-error limit is a number
  void client.credits.list.query({ limit: 'ten' });
  // @ts-expect-error status is 'active' or 'retired'
  void client.credits.list.query({ status: 'pending' });
  // @ts-expect-error retiring needs a beneficiary
  void client.credits.retire.mutate({ id: 'cc_0' });
  // @ts-expect-error a split needs a requestId: it names the part
  void client.credits.split.mutate({ id: 'cc_0', quantity: '1' });
  // @ts-expect-error unitRange is {first, last} of numbers
  void client.credits.create.mutate({ ...validCredit, unitRange: { first: '1', last: '10' } });
  // @ts-expect-error cancelling needs a reason
  void client.credits.cancel.mutate({ id: 'cc_0' });
  // @ts-expect-error there is no such procedure
  void client.credits.delete.mutate({ id: 'cc_0' }); // eslint-disable-line @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access -- no such member: there is no type to check
  // @ts-expect-error get is a query, it has no mutate
  void client.credits.get.mutate({ id: 'cc_0' }); // eslint-disable-line @typescript-eslint/no-unsafe-call -- no such member: there is no type to check
  // @ts-expect-error create is a mutation, it has no query
  void client.credits.create.query(validCredit); // eslint-disable-line @typescript-eslint/no-unsafe-call -- no such member: there is no type to check
}

/** Never called: error data is narrowed by kind. */
export function errorKindsNarrow(err: unknown): void {
  const e = ledgerError(err);
  // @ts-expect-error issues exist only once the kind is known to be BAD_REQUEST
  void e.issues;
  if (e.kind === 'BAD_REQUEST') expectTypeOf(e.issues).toEqualTypeOf<FieldIssue[]>();
  if (e.kind === 'CONFLICT') {
    expectTypeOf(e.details.existingId).toEqualTypeOf<string | undefined>();
    expectTypeOf(e.details.differingFields).toEqualTypeOf<string[] | undefined>();
    expectTypeOf(e.domainCode).toEqualTypeOf<
      | 'CREDIT_NOT_FOUND'
      | 'ALREADY_RETIRED'
      | 'RETIREMENT_PENDING_DIFFERS'
      | 'NO_PENDING_RETIREMENT'
      | 'ALREADY_CANCELLED'
      | 'RETIREMENT_PENDING'
      | 'REQUEST_ID_REUSED'
      | 'INSUFFICIENT_QUANTITY'
      | 'INVALID_QUANTITY'
      | 'CREDIT_BUSY'
      | undefined
    >();
  }
  if (e.kind === 'CONFLICT') {
    expectTypeOf(e.details.overlap).toEqualTypeOf<UnitRange | undefined>();
    expectTypeOf(e.details.available).toEqualTypeOf<string | undefined>();
    expectTypeOf(e.details.requested).toEqualTypeOf<string | undefined>();
    expectTypeOf(e.details.childId).toEqualTypeOf<string | undefined>();
  }
  if (e.kind === 'BAD_REQUEST') expectTypeOf(e.domainCode).toEqualTypeOf<LedgerErrorDomainCode | undefined>();
  if (e.kind === 'NOT_FOUND') expectTypeOf(e.httpStatus).toEqualTypeOf<number>();
  if (e.kind === 'NETWORK') {
    // @ts-expect-error a network failure has no server answer to carry a code
    void e.code;
  }
}

describe('typed client', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('inputs type as the schemas take them; outputs at run time are what their types say', async () => {
    expectTypeOf<LedgerInputs['credits']['create']['quantity']>().toEqualTypeOf<string | number>();
    expectTypeOf<LedgerInputs['credits']['create']['vintage']>().toEqualTypeOf<number>();
    expectTypeOf<LedgerInputs['credits']['list']>().toEqualTypeOf<{
      cursor?: string | undefined;
      limit?: number | undefined;
      registry?: string | undefined;
      vintage?: number | undefined;
      status?: 'active' | 'retired' | 'cancelled' | undefined;
      projectName?: string | undefined;
    }>();
    expectTypeOf<LedgerOutputs['credits']['get']['events'][number]['position']>().toEqualTypeOf<string>();
    expectTypeOf<LedgerOutputs['credits']['retirementStatus']['status']>().toEqualTypeOf<RetirementStatusValue>();

    const created = await app.admin.credits.create.mutate({ ...validCredit, quantity: 12.5 });
    expectTypeOf(created.created).toEqualTypeOf<boolean>();
    expectTypeOf(created.credit.quantity).toEqualTypeOf<string>();
    expectTypeOf(created.credit.vintage).toEqualTypeOf<number>();
    expectTypeOf(created.credit.status).toEqualTypeOf<'active' | 'retired' | 'cancelled'>();
    expectTypeOf(created.credit.retiredAt).toEqualTypeOf<string | null>();
    expect(created.created).toBe(true);
    // A number in, the canonical decimal string out.
    expect(created.credit.quantity).toBe('12.5');
    expect(created.credit.vintage).toBe(2020);
    expect(created.credit.status).toBe('active');
    expect(created.credit.retiredAt).toBeNull();

    const again = await app.admin.credits.create.mutate(validCredit);
    expect(again).toEqual({ credit: created.credit, created: false });

    const got = await app.admin.credits.get.query({ id: created.credit.id });
    expectTypeOf(got.events).items.toHaveProperty('type').toEqualTypeOf<EventType>();
    expect(got.credit).toEqual(created.credit);
    const [first] = got.events;
    expect(got.events).toHaveLength(1);
    expect(first?.type).toBe('created');
    expect(typeof first?.position).toBe('string');
    expect(first?.position).toMatch(/^[1-9][0-9]*$/);
    expect(first?.version).toBe(1);

    const status = await app.admin.credits.retirementStatus.query({ id: created.credit.id });
    expectTypeOf(status.status).toEqualTypeOf<RetirementStatusValue>();
    expect(status).toEqual({ status: 'not_requested', attempts: 0 });

    const page = await app.admin.credits.list.query({ limit: 10 });
    expectTypeOf(page.nextCursor).toEqualTypeOf<string | null>();
    expect(page).toEqual({ items: [created.credit], nextCursor: null });
  });
});

describe('typed client: blocks', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('split, cancel, retire with a quantity, lineage and supply totals type as they answer', async () => {
    expectTypeOf<LedgerInputs['credits']['create']['unitRange']>().toEqualTypeOf<{ first: number; last: number } | undefined>();
    expectTypeOf<LedgerInputs['credits']['split']>().toEqualTypeOf<{ id: string; quantity: string | number; requestId: string }>();
    expectTypeOf<Credit['unitRange']>().toEqualTypeOf<{ first: number; last: number } | null>();
    // Optional in the type (the published contract must equal the server's); always sent, as the split below shows.
    expectTypeOf<Credit['parentId']>().toEqualTypeOf<string | null | undefined>();

    const { credit: block } = await app.admin.credits.create.mutate({ ...validCredit, serialNumber: 'BLK-TYPES-1', quantity: 100, unitRange: { first: 1, last: 100 } });
    expect(block.unitRange).toEqual({ first: 1, last: 100 });
    expect(block.parentId).toBeNull();

    const split: SplitResult = await app.admin.credits.split.mutate({ id: block.id, quantity: 10, requestId: 'types-1' });
    expectTypeOf(split.created).toEqualTypeOf<boolean>();
    expect(split).toMatchObject({ created: true, credit: { quantity: '10', unitRange: { first: 1, last: 10 }, parentId: block.id }, parent: { quantity: '90' } });

    const cancelled: CancelResult = await app.admin.credits.cancel.mutate({ id: block.id, reason: 'correction', quantity: 5, requestId: 'types-2' });
    expectTypeOf(cancelled.cancelled).toEqualTypeOf<boolean>();
    expect(cancelled).toMatchObject({ cancelled: true, partOf: block.id, credit: { status: 'cancelled', quantity: '5' } });

    const retired: RetireResult = await app.admin.credits.retire.mutate({ id: block.id, beneficiary: 'Typed Buyer', quantity: '1', requestId: 'types-3' });
    expectTypeOf(retired.creditId).toEqualTypeOf<string>();
    expect(retired.partOf).toBe(block.id);
    expect(retired.jobId).toBe(retired.creditId);

    const lineage: CreditLineage = (await app.admin.credits.get.query({ id: split.credit.id })).lineage;
    expect(lineage.parents.map((p) => p.id)).toEqual([block.id]);
    expect((await app.admin.credits.get.query({ id: block.id })).lineage.parts.map((p) => p.id)).toEqual([split.credit.id, cancelled.credit.id, retired.creditId]);

    const totals: SupplyTotals = await app.admin.supply.totals.query({});
    expectTypeOf(totals.issued).toEqualTypeOf<string>();
    // This describe's app has its own database: the block is all there is. A pending retirement is still active.
    expect(totals).toMatchObject({ issued: '100', cancelled: '5', pendingRetirement: '1', retired: '0', active: '95' });

    const err = await app.admin.credits.split.mutate({ id: block.id, quantity: 1000, requestId: 'types-4' }).catch((e: unknown) => e);
    const e = ledgerError(err);
    expect(e.kind === 'CONFLICT' && [e.domainCode, e.details.requested, e.details.available]).toEqual(['INSUFFICIENT_QUANTITY', '1000', '84']);
  });
});

describe('the proofs the client verifies offline', () => {
  it("are typed from the API's outputs, the same shapes the server signs", () => {
    expectTypeOf<RetirementCertificate>().toEqualTypeOf<ServerRetirementCertificate>();
    expectTypeOf<CheckpointPayload>().toEqualTypeOf<ServerCheckpointPayload>();
  });
});
