import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventHash } from '../../server/credits/event-hash.js';
import { rejectionOf } from '../helpers/api-errors.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { waitForSettledFeed } from '../helpers/pg.js';

/*
 * Reading history: credits.get (a credit and its hash-chained events),
 * credits.stateAt (time travel) and events.list (the global feed).
 */

type FeedEvent = Awaited<ReturnType<TestApp['admin']['events']['list']['query']>>['events'][number];

const UNKNOWN_ID = `cc_${'0'.repeat(64)}`;
const ADMIN_KEY_ID = 'key_bootstrap_admin';

let app: TestApp;
let issuer: Awaited<ReturnType<TestApp['as']>>;
let retirer: Awaited<ReturnType<TestApp['as']>>;

beforeAll(async () => {
  app = await startTestApp();
  issuer = await app.as('issuer');
  retirer = await app.as('retirer');
});

afterAll(async () => {
  await app?.close();
});

const newCredit = (label: string) => ({
  projectName: `${label} Project`,
  registry: 'Verra',
  vintage: 2022,
  quantity: '12.5',
  serialNumber: `${label}-${randomUUID()}`,
});

const msBefore = (iso: string, ms = 1) => new Date(Date.parse(iso) - ms).toISOString();

describe('credits.get', () => {
  it('returns the credit and its events oldest first, hash-chained, each naming the key that caused it', async () => {
    const input = newCredit('Get');
    const { credit } = await issuer.client.credits.create.mutate(input);
    await retirer.client.credits.retire.mutate({ id: credit.id, beneficiary: 'Acme Corp', reason: 'FY2024 offset' });

    const got = await app.admin.credits.get.query({ id: credit.id });

    expect(got.credit).toEqual({ ...credit, version: 2 });
    expect(got.events.map((e) => [e.version, e.type, e.actor])).toEqual([
      [1, 'created', issuer.keyId],
      [2, 'retirement_requested', retirer.keyId],
    ]);
    expect(got.events[0]?.data).toEqual(input);
    expect(got.events[1]?.data).toEqual({ beneficiary: 'Acme Corp', reason: 'FY2024 offset' });
    for (const e of got.events) expect(e.creditId).toBe(credit.id);
    expect(got.events[0]?.occurredAt).toBe(credit.createdAt);

    expect(got.events[0]?.prevHash).toBeNull();
    got.events.forEach((e, i) => {
      if (i > 0) expect(e.prevHash).toBe(got.events[i - 1]?.hash);
      expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
      // Each hash covers the event as stored and the previous hash.
      expect(e.hash).toBe(eventHash({ ...e, occurredAt: new Date(e.occurredAt) }));
    });
    expect(BigInt(got.events[1]?.position ?? 0)).toBeGreaterThan(BigInt(got.events[0]?.position ?? 0));
  });

  it('names the bootstrap admin key for what the admin key did', async () => {
    const { credit } = await app.admin.credits.create.mutate(newCredit('AdminActor'));
    await app.admin.credits.retire.mutate({ id: credit.id, beneficiary: 'Admin Beneficiary' });
    const { events } = await app.admin.credits.get.query({ id: credit.id });
    expect(events.map((e) => e.actor)).toEqual([ADMIN_KEY_ID, ADMIN_KEY_ID]);
    expect(events[1]?.data).toEqual({ beneficiary: 'Admin Beneficiary', reason: null });
  });

  it('a repeated retirement request adds no event', async () => {
    const { credit } = await app.admin.credits.create.mutate(newCredit('RetireTwice'));
    const first = await retirer.client.credits.retire.mutate({ id: credit.id, beneficiary: 'Acme' });
    const again = await retirer.client.credits.retire.mutate({ id: credit.id, beneficiary: 'Acme', reason: '' });
    expect(first.deduplicated).toBe(false);
    expect(again.deduplicated).toBe(true);
    const { events } = await app.admin.credits.get.query({ id: credit.id });
    expect(events.map((e) => e.type)).toEqual(['created', 'retirement_requested']);
  });

  it('NOT_FOUND for a well-formed ID no credit has', async () => {
    const err = await rejectionOf(app.admin.credits.get.query({ id: UNKNOWN_ID }));
    expect(err.data?.code).toBe('NOT_FOUND');
    expect(err.data?.httpStatus).toBe(404);
    expect(err.data?.domainCode).toBe('CREDIT_NOT_FOUND');
  });

  it.each([
    ['too short', 'cc_123'],
    ['upper-case hex', `cc_${'A'.repeat(64)}`],
    ['wrong prefix', `xx_${'0'.repeat(64)}`],
    ['one digit too many', `cc_${'0'.repeat(65)}`],
    ['empty', ''],
  ])('BAD_REQUEST naming id for a malformed ID (%s)', async (_name, id) => {
    const err = await rejectionOf(app.admin.credits.get.query({ id }));
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.data?.issues?.map((i) => i.path)).toEqual(['id']);
  });
});

describe('credits.stateAt', () => {
  it('NOT_FOUND before the credit existed; active from its creation on', async () => {
    const { credit } = await app.admin.credits.create.mutate(newCredit('StateAt'));

    const before = await rejectionOf(app.admin.credits.stateAt.query({ id: credit.id, at: msBefore(credit.createdAt) }));
    expect(before.data?.code).toBe('NOT_FOUND');

    const atCreation = await app.admin.credits.stateAt.query({ id: credit.id, at: credit.createdAt });
    expect(atCreation).toEqual({ at: credit.createdAt, credit, retirementPending: false });

    const now = await app.admin.credits.stateAt.query({ id: credit.id, at: new Date().toISOString() });
    expect(now.credit).toEqual(credit);
    expect(now.credit.status).toBe('active');
  });

  it('shows a retirement request only from the moment it was made', async () => {
    const { credit } = await app.admin.credits.create.mutate(newCredit('StateAtRetire'));
    await new Promise((r) => setTimeout(r, 5));
    await retirer.client.credits.retire.mutate({ id: credit.id, beneficiary: 'Time Traveller' });
    const { events } = await app.admin.credits.get.query({ id: credit.id });
    const requestedAt = events.find((e) => e.type === 'retirement_requested')?.occurredAt;
    if (!requestedAt) throw new Error('no retirement_requested event');

    const justBefore = await app.admin.credits.stateAt.query({ id: credit.id, at: msBefore(requestedAt) });
    expect(justBefore.retirementPending).toBe(false);
    expect(justBefore.credit).toMatchObject({ status: 'active', version: 1 });

    const atRequest = await app.admin.credits.stateAt.query({ id: credit.id, at: requestedAt });
    expect(atRequest.retirementPending).toBe(true);
    expect(atRequest.credit).toMatchObject({ status: 'active', version: 2 });
  });

  it('accepts an instant with a UTC offset and answers it in UTC', async () => {
    const { credit } = await app.admin.credits.create.mutate(newCredit('StateAtOffset'));
    const later = new Date(Date.parse(credit.createdAt) + 60_000);
    // The same instant, written two hours ahead of UTC.
    const local = new Date(later.getTime() + 2 * 3600_000).toISOString().replace('Z', '+02:00');
    const state = await app.admin.credits.stateAt.query({ id: credit.id, at: local });
    expect(state.at).toBe(later.toISOString());
    expect(state.credit.id).toBe(credit.id);
  });

  it('NOT_FOUND for an unknown credit at any time', async () => {
    const err = await rejectionOf(app.admin.credits.stateAt.query({ id: UNKNOWN_ID, at: new Date().toISOString() }));
    expect(err.data?.code).toBe('NOT_FOUND');
  });

  it.each<[string, unknown, string]>([
    ['an instant without offset', { id: UNKNOWN_ID, at: '2024-01-01T00:00:00' }, 'at'],
    ['a date only', { id: UNKNOWN_ID, at: '2024-01-01' }, 'at'],
    ['an impossible date', { id: UNKNOWN_ID, at: '2023-02-29T00:00:00Z' }, 'at'],
    ['a number', { id: UNKNOWN_ID, at: 1700000000000 }, 'at'],
    ['a malformed ID', { id: 'cc_nope', at: '2024-01-01T00:00:00Z' }, 'id'],
  ])('BAD_REQUEST for %s', async (_name, input, path) => {
    const err = await rejectionOf(app.admin.credits.stateAt.query(input as never));
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.data?.issues?.map((i) => i.path)).toEqual([path]);
  });
});

describe('events.list', () => {
  /** Pages through the whole feed after `after`, `limit` at a time. */
  async function readFeed(after: string, limit: number): Promise<{ events: FeedEvent[]; pages: number }> {
    const events: FeedEvent[] = [];
    let cursor = after;
    let pages = 0;
    for (;;) {
      const page = await app.admin.events.list.query({ after: cursor, limit });
      pages++;
      if (page.events.length === 0) {
        expect(page.nextCursor).toBe(cursor);
        return { events, pages };
      }
      expect(page.events.length).toBeLessThanOrEqual(limit);
      const last = page.events.at(-1);
      expect(page.nextCursor).toBe(`${last?.txId}-${last?.position}`);
      events.push(...page.events);
      cursor = page.nextCursor;
    }
  }

  /** (transaction, position): the feed's order. */
  const feedKey = (e: FeedEvent): [bigint, bigint] => [BigInt(e.txId), BigInt(e.position)];
  const before = ([t1, p1]: [bigint, bigint], [t2, p2]: [bigint, bigint]) => t1 < t2 || (t1 === t2 && p1 < p2);

  it('is the global log in (transaction, position) order, and cursor paging returns each event exactly once', async () => {
    // Interleave several credits' streams so the feed is not grouped by credit.
    const credits = [];
    for (let i = 0; i < 4; i++) credits.push((await app.admin.credits.create.mutate(newCredit(`Feed${i}`))).credit);
    for (const c of credits.slice(0, 3)) await retirer.client.credits.retire.mutate({ id: c.id, beneficiary: 'Feed' });
    await waitForSettledFeed(app.databaseUrl);

    const all = await app.admin.events.list.query({ limit: 1000 });
    expect(all.events.length).toBeGreaterThanOrEqual(7);
    expect(all.events.length).toBeLessThan(1000);
    for (let i = 1; i < all.events.length; i++) expect(before(feedKey(all.events[i - 1] as FeedEvent), feedKey(all.events[i] as FeedEvent))).toBe(true);

    const paged = await readFeed('0-0', 3);
    expect(paged.events).toEqual(all.events);
    expect(paged.pages).toBe(Math.ceil(all.events.length / 3) + 1);
    expect(new Set(paged.events.map((e) => e.position)).size).toBe(paged.events.length);

    // The feed carries exactly what each credit's own history says.
    for (const c of credits) {
      const { events } = await app.admin.credits.get.query({ id: c.id });
      expect(all.events.filter((e) => e.creditId === c.id)).toEqual(events);
    }
  });

  it('resuming after a cursor returns only later events, including ones appended since', async () => {
    await waitForSettledFeed(app.databaseUrl);
    const head = await app.admin.events.list.query({ limit: 1000 });
    const last = head.nextCursor;
    expect((await app.admin.events.list.query({ after: last })).events).toEqual([]);

    const { credit } = await app.admin.credits.create.mutate(newCredit('FeedResume'));
    await waitForSettledFeed(app.databaseUrl);
    const after = await app.admin.events.list.query({ after: last });
    expect(after.events.map((e) => [e.creditId, e.type])).toEqual([[credit.id, 'created']]);
    const [tx, pos] = after.nextCursor.split('-').map(BigInt) as [bigint, bigint];
    const [lastTx, lastPos] = last.split('-').map(BigInt) as [bigint, bigint];
    expect(before([lastTx, lastPos], [tx, pos])).toBe(true);
  });

  it('defaults to the start of the log and 100 events', async () => {
    await waitForSettledFeed(app.databaseUrl);
    const page = await app.admin.events.list.query({});
    const explicit = await app.admin.events.list.query({ after: '0-0', limit: 100 });
    expect(page).toEqual(explicit);
  });

  it.each([1, 1000])('limit %i is accepted', async (limit) => {
    await waitForSettledFeed(app.databaseUrl);
    const page = await app.admin.events.list.query({ limit });
    expect(page.events.length).toBeLessThanOrEqual(limit);
    expect(page.events.length).toBeGreaterThan(0);
  });

  it.each<[string, unknown, string]>([
    ['limit 0', { limit: 0 }, 'limit'],
    ['limit 1001', { limit: 1001 }, 'limit'],
    ['limit 2.5', { limit: 2.5 }, 'limit'],
    ['after -1', { after: '-1' }, 'after'],
    ['after as a number', { after: 5 }, 'after'],
    ['after a bare position', { after: '17' }, 'after'],
    ['after "1e3-1"', { after: '1e3-1' }, 'after'],
    ['after with a 20-digit position', { after: `1-${'1'.repeat(20)}` }, 'after'],
    ['the old afterPosition field', { afterPosition: '0' }, '(input)'],
    ['unknown key', { creditId: UNKNOWN_ID }, '(input)'],
  ])('BAD_REQUEST for %s', async (_name, input, path) => {
    const err = await rejectionOf(app.admin.events.list.query(input as never));
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.data?.issues?.map((i) => i.path)).toEqual([path]);
  });

  it('a position beyond the bigint range, or a transaction beyond xid8, is refused as BAD_REQUEST, not an internal error', async () => {
    // 19 digits, but 9999999999999999999 > 9223372036854775807, PostgreSQL's bigint maximum.
    for (const after of ['1-9999999999999999999', '99999999999999999999-1']) {
      const err = await rejectionOf(app.admin.events.list.query({ after }));
      expect(err.data?.code).toBe('BAD_REQUEST');
      expect(err.data?.issues?.map((i) => i.path)).toEqual(['after']);
    }
  });

  it('the largest cursor is accepted and is past the end of the log', async () => {
    const page = await app.admin.events.list.query({ after: '18446744073709551615-9223372036854775807' });
    expect(page).toEqual({ events: [], nextCursor: '18446744073709551615-9223372036854775807' });
  });
});
