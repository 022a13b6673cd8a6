import { describe, expect, it } from 'vitest';
import type { CreditCommand } from '../../server/credits/decider.js';
import type { CreditEvent, CreditFields } from '../../server/credits/events.js';
import { evolve, initialState, replay } from '../../server/credits/state.js';
import { DEFAULT_ACTOR, given, minutesAfterT0, record, TEST_CREDIT_ID } from '../helpers/decider-spec.js';

const fields: CreditFields = {
  projectName: 'Kasigau Corridor REDD+',
  registry: 'Verra',
  vintage: 2021,
  quantity: '100',
  serialNumber: 'VCS-1234-2021-001',
};

const created: CreditEvent = { type: 'created', data: fields };
const requested = (beneficiary = 'Acme Ltd', reason: string | null = 'FY24 offset') =>
  ({ type: 'retirement_requested', data: { beneficiary, reason } }) satisfies CreditEvent;
const failed: CreditEvent = { type: 'retirement_failed', data: { failedReason: 'registry timeout', attempts: 1 } };
const retiredEvent = {
  type: 'retired',
  data: {
    beneficiary: 'Acme Ltd',
    reason: 'FY24 offset',
    requestedBy: 'key_alice',
    requestedAt: minutesAfterT0(1).toISOString(),
    attempts: 2,
  },
  actor: 'worker',
} satisfies CreditEvent & { actor: string };

const request = (beneficiary = 'Acme Ltd', reason: string | null = 'FY24 offset'): CreditCommand => ({
  type: 'request_retirement',
  beneficiary,
  reason,
});
const retire: CreditCommand = { type: 'retire', attempts: 2 };
const fail: CreditCommand = { type: 'fail_retirement', failedReason: 'registry timeout', attempts: 1 };

describe('create', () => {
  it('creates an absent credit', () => {
    given([]).when({ type: 'create', fields }).then([{ type: 'created', data: fields }]);
  });

  it('is a no-op for an existing credit, whatever the spelling', () => {
    given([created]).when({ type: 'create', fields }).then([]);
    given([created]).when({ type: 'create', fields: { ...fields, projectName: 'KASIGAU corridor redd+' } }).then([]);
  });
});

describe('request_retirement', () => {
  it('fails for an absent credit', () => {
    given([]).when(request()).thenThrows('CREDIT_NOT_FOUND');
  });

  it('records the request on an active credit', () => {
    given([created]).when(request()).then([requested()]);
    given([created]).when(request('Acme Ltd', null)).then([requested('Acme Ltd', null)]);
  });

  it('is a no-op when the same request is already pending', () => {
    given([created, requested()]).when(request()).then([]);
    given([created, requested('Acme Ltd', null)]).when(request('Acme Ltd', null)).then([]);
  });

  it.each([
    { beneficiary: 'Other Corp', reason: 'FY24 offset', differing: ['beneficiary'] },
    { beneficiary: 'Acme Ltd', reason: 'another reason', differing: ['reason'] },
    { beneficiary: 'Acme Ltd', reason: null, differing: ['reason'] },
    { beneficiary: 'Other Corp', reason: null, differing: ['beneficiary', 'reason'] },
  ])('refuses a different request while one is pending ($differing)', ({ beneficiary, reason, differing }) => {
    given([created, requested()])
      .when(request(beneficiary, reason))
      .thenThrows('RETIREMENT_PENDING_DIFFERS', {
        differingFields: differing,
        pending: { beneficiary: 'Acme Ltd', reason: 'FY24 offset' },
      });
  });

  it('refuses a retired credit and says when and for whom', () => {
    const error = given([created, { ...requested(), actor: 'key_alice' }, retiredEvent])
      .when(request())
      .thenThrows('ALREADY_RETIRED', {
        retiredAt: minutesAfterT0(2).toISOString(),
        beneficiary: 'Acme Ltd',
        reason: 'FY24 offset',
      });
    expect(error.message).toContain(minutesAfterT0(2).toISOString());
  });

  it('accepts a new request after a failed one', () => {
    given([created, requested(), failed]).when(request('Other Corp', null)).then([requested('Other Corp', null)]);
  });
});

describe('retire', () => {
  it('fails for an absent credit', () => {
    given([]).when(retire).thenThrows('CREDIT_NOT_FOUND');
  });

  it('fails when no retirement is pending', () => {
    given([created]).when(retire).thenThrows('NO_PENDING_RETIREMENT');
    given([created, requested(), failed]).when(retire).thenThrows('NO_PENDING_RETIREMENT');
  });

  it('retires with the pending request, crediting the actor who asked and counting attempts', () => {
    given([created, { ...requested(), actor: 'key_alice' }])
      .when(retire)
      .then([
        {
          type: 'retired',
          data: {
            beneficiary: 'Acme Ltd',
            reason: 'FY24 offset',
            requestedBy: 'key_alice',
            requestedAt: minutesAfterT0(1).toISOString(),
            attempts: 2,
          },
        },
      ]);
  });

  it('honours an explicit occurredAt on the request', () => {
    const requestedAt = new Date('2024-05-05T05:05:05.005Z');
    given([created, { ...requested('B', null), actor: 'key_bob', occurredAt: requestedAt }])
      .when({ type: 'retire', attempts: 1 })
      .then([
        {
          type: 'retired',
          data: { beneficiary: 'B', reason: null, requestedBy: 'key_bob', requestedAt: requestedAt.toISOString(), attempts: 1 },
        },
      ]);
  });

  it('is a no-op for a retired credit', () => {
    given([created, requested(), retiredEvent]).when(retire).then([]);
  });
});

describe('fail_retirement', () => {
  it('records the failure of a pending retirement', () => {
    given([created, requested()]).when(fail).then([failed]);
  });

  it.each([
    { name: 'absent', history: [] },
    { name: 'active without a pending request', history: [created] },
    { name: 'already failed', history: [created, requested(), failed] },
    { name: 'retired', history: [created, requested(), retiredEvent] },
  ])('is a no-op when $name', ({ history }) => {
    given(history).when(fail).then([]);
  });
});

describe('evolve', () => {
  it('replays created → requested → retired into a retired credit', () => {
    const history = record([created, { ...requested(), actor: 'key_alice' }, retiredEvent]);
    const state = replay(history);
    const retiredAt = history[2]?.occurredAt;

    expect(state).toEqual({
      status: 'retired',
      id: TEST_CREDIT_ID,
      fields,
      createdAt: minutesAfterT0(0),
      version: 3,
      // What it holds: an amount-only credit never split, carved off nothing.
      quantity: '100',
      units: null,
      blockKey: null,
      parentId: null,
      splits: new Map(),
      retirement: {
        beneficiary: 'Acme Ltd',
        reason: 'FY24 offset',
        requestedBy: 'key_alice',
        requestedAt: minutesAfterT0(1),
        retiredAt,
        retiredBy: 'worker',
        attempts: 2,
      },
    });
    expect(retiredAt).toEqual(minutesAfterT0(2));
  });

  it('tracks the pending request and clears it on failure', () => {
    const [c, r, f] = record([created, { ...requested(), actor: 'key_alice' }, failed]);
    if (!c || !r || !f) throw new Error('unreachable');
    const pending = evolve(evolve(initialState(), c), r);
    expect(pending).toMatchObject({
      status: 'active',
      version: 2,
      pending: { beneficiary: 'Acme Ltd', reason: 'FY24 offset', requestedBy: 'key_alice', requestedAt: r.occurredAt },
      lastFailure: null,
    });
    expect(evolve(pending, f)).toMatchObject({
      status: 'active',
      version: 3,
      pending: null,
      lastFailure: { failedReason: 'registry timeout', failedAt: f.occurredAt, attempts: 1 },
    });
  });

  it('stamps the default envelope on given events', () => {
    expect(given([created]).history).toEqual([
      { ...created, creditId: TEST_CREDIT_ID, version: 1, actor: DEFAULT_ACTOR, occurredAt: minutesAfterT0(0) },
    ]);
  });
});

/*
 * Blocks: splitting carves the lowest units off, cancelling ends a credit, and
 * retired or cancelled units are final.
 */
const block: CreditFields = {
  projectName: 'Hydro Plant',
  registry: 'Verra',
  vintage: 2018,
  quantity: '610',
  serialNumber: '19298-935995787-935996396-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0',
};
const blockCreated: CreditEvent = { type: 'created', data: block };
const split = (requestId: string, quantity: string): CreditCommand => ({ type: 'split', childId: `cc_${requestId.padEnd(64, '0')}`, requestId, quantity });
const splitEvent = (requestId: string, quantity: string, first: number, last: number): CreditEvent => ({
  type: 'split',
  data: { childId: `cc_${requestId.padEnd(64, '0')}`, requestId, quantity, unitRange: { first, last } },
});
const cancelled: CreditEvent = { type: 'cancelled', data: { reason: 'buffer pool' } };

describe('split', () => {
  it('carves the lowest units of a block off into a part', () => {
    given([blockCreated]).when(split('a1', '18')).then([splitEvent('a1', '18', 935995787, 935995804)]);
  });

  it('carves the next units after earlier parts', () => {
    given([blockCreated, splitEvent('a1', '18', 935995787, 935995804)])
      .when(split('b2', '526'))
      .then([splitEvent('b2', '526', 935995805, 935996330)]);
  });

  it('carves a decimal amount off an amount-only credit, without units', () => {
    given([created])
      .when(split('c3', '0.25'))
      .then([{ type: 'split', data: { childId: `cc_${'c3'.padEnd(64, '0')}`, requestId: 'c3', quantity: '0.25', unitRange: null } }]);
  });

  it('the same requestId again is a no-op; with another quantity it is refused naming quantity', () => {
    const history = [blockCreated, splitEvent('a1', '18', 935995787, 935995804)];
    given(history).when(split('a1', '18')).then([]);
    given(history).when(split('a1', '19')).thenThrows('REQUEST_ID_REUSED', { field: 'quantity', quantity: '18' });
  });

  it('refuses more than is held, or all of it, naming what is left', () => {
    given([blockCreated, splitEvent('a1', '18', 935995787, 935995804)]).when(split('x', '593')).thenThrows('INSUFFICIENT_QUANTITY', { available: '592' });
    given([blockCreated]).when(split('x', '610')).thenThrows('INSUFFICIENT_QUANTITY', { available: '610' });
  });

  it('refuses a fraction of a unit', () => {
    given([blockCreated]).when(split('x', '1.5')).thenThrows('INVALID_QUANTITY', { field: 'quantity' });
  });

  it('refuses while a retirement is pending, and after retirement or cancellation', () => {
    given([blockCreated, requested()]).when(split('x', '1')).thenThrows('RETIREMENT_PENDING');
    given([blockCreated, requested(), retiredEvent]).when(split('x', '1')).thenThrows('ALREADY_RETIRED');
    given([blockCreated, cancelled]).when(split('x', '1')).thenThrows('ALREADY_CANCELLED');
  });
});

describe('cancel', () => {
  it('ends an active credit as cancelled; the same cancellation again is a no-op', () => {
    given([created]).when({ type: 'cancel', reason: 'buffer pool' }).then([cancelled]);
    given([created, cancelled]).when({ type: 'cancel', reason: 'buffer pool' }).then([]);
  });

  it('refuses another cancellation, a pending retirement, and a retired credit', () => {
    given([created, cancelled]).when({ type: 'cancel', reason: 'correction' }).thenThrows('ALREADY_CANCELLED');
    given([created, requested()]).when({ type: 'cancel', reason: 'x' }).thenThrows('RETIREMENT_PENDING');
    given([created, requested(), retiredEvent]).when({ type: 'cancel', reason: 'x' }).thenThrows('ALREADY_RETIRED');
  });

  it('cancelled units can never be retired', () => {
    given([created, cancelled]).when(request()).thenThrows('ALREADY_CANCELLED');
    given([created, cancelled]).when(retire).thenThrows('ALREADY_CANCELLED');
  });
});

describe('evolve with parts', () => {
  it('a split leaves the parent the rest of its quantity and the units above the part', () => {
    const state = replay(record([blockCreated, splitEvent('a1', '18', 935995787, 935995804)]));
    expect(state).toMatchObject({ status: 'active', quantity: '592', units: { first: 935995805, last: 935996396 }, version: 2 });
    expect(state.status !== 'absent' && state.splits.get('a1')).toEqual({ childId: `cc_${'a1'.padEnd(64, '0')}`, quantity: '18', unitRange: { first: 935995787, last: 935995804 } });
  });

  it('a part starts from split_from with its own fields, its block and its parent', () => {
    const part: CreditEvent = {
      type: 'split_from',
      data: {
        parentId: TEST_CREDIT_ID,
        requestId: 'a1',
        blockKey: '19298-vcs-vcu-1491-ver-br-1-513-01012018-31122018-0',
        fields: { ...block, quantity: '18', serialNumber: '19298-935995787-935995804-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0' },
      },
    };
    expect(replay(record([part]))).toMatchObject({
      status: 'active',
      quantity: '18',
      parentId: TEST_CREDIT_ID,
      blockKey: '19298-vcs-vcu-1491-ver-br-1-513-01012018-31122018-0',
      units: { first: 935995787, last: 935995804 },
    });
  });
});
