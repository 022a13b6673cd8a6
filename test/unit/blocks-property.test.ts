import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { creditId, splitChildId } from '../../server/credits/canonical-id.js';
import { createCreditInput } from '../../server/credits/credit.schema.js';
import { carvedPart, decide, type CreditCommand } from '../../server/credits/decider.js';
import { DomainError, type DomainErrorCode } from '../../server/credits/errors.js';
import type { CreditEvent, CreditFields, RecordedEvent, UnitRange } from '../../server/credits/events.js';
import { projectionOf } from '../../server/credits/projection.js';
import { addQuantities, compareQuantity, isWholeQuantity, subtractQuantity } from '../../server/credits/quantity.js';
import { parseSerial, serialForUnits, unitCount } from '../../server/credits/serial-ranges.js';
import { evolve, initialState, replay, unitsOf, type CreditState, type ExistingCredit } from '../../server/credits/state.js';

/*
 * Credit blocks under random histories, in the pure domain only (decide,
 * evolve, carvedPart, splitChildId; no I/O): creates of blocks and of
 * amount-only credits, splits, partial retirements (split, request the
 * part's retirement, the worker retires it), whole retirements, failures,
 * cancellations of a whole credit or of a part. An in-memory map of streams
 * stands in for PostgreSQL, including what only the database decides (the
 * natural key and the exclusion constraint on units at create) and the
 * all-or-nothing transaction of a part (actOnPart). After every step:
 *
 *  - within a block, no two credits hold one unit, live or not, and the units
 *    of every credit descended from an issued block tile its issued range;
 *  - quantities conserve exactly: what every issued credit's lineage holds
 *    adds up to what was issued; issued = active + retired + cancelled;
 *  - a credit with units holds exactly as many as its quantity, and a
 *    Verra or Gold Standard credit's serial spells the units it holds;
 *  - every split names its part, whose ID is splitChildId(parent, requestId);
 *  - the replay of every stream is the state the steps built;
 *  - a refused command throws the DomainError a reference model expects
 *    and changes nothing.
 */

const T0 = Date.parse('2024-03-01T12:00:00.000Z');
const ACTOR = 'key_property';

// requestIds that are also names on Object.prototype must be plain keys.
const REQUEST_IDS = ['r1', 'r2', 'r3', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', 'valueOf', '0'] as const;
const AMOUNTS = ['0.5', '1', '7.25', '100', '1000000.123456', '3.000001'] as const;
const PART_AMOUNTS = ['0.000001', '0.25', '1', '2.5', '99.999999'] as const;
const REASONS = ['buffer pool', 'correction'] as const;
const BENEFICIARIES = ['Acme Ltd', 'City of Example'] as const;

type QuantityChoice =
  /** A share of what the credit holds (whole units for a block). */
  | { t: 'share'; p: number }
  | { t: 'all' }
  | { t: 'more' }
  | { t: 'fixed'; q: (typeof PART_AMOUNTS)[number] };

type Op =
  | { t: 'create'; kind: 'verra' | 'gs' | 'range' | 'amount'; n: number; first: number; len: number; amount: (typeof AMOUNTS)[number] }
  | { t: 'createAgain'; who: number }
  | { t: 'split'; who: number; q: QuantityChoice; rid: string }
  | { t: 'retirePart'; who: number; q: QuantityChoice; rid: string; beneficiary: string; retireNow: boolean }
  | { t: 'cancelPart'; who: number; q: QuantityChoice; rid: string; reason: string }
  | { t: 'request'; who: number; beneficiary: string }
  | { t: 'retire'; who: number }
  | { t: 'fail'; who: number }
  | { t: 'cancel'; who: number; reason: string };

const rid = fc.constantFrom(...REQUEST_IDS);
const who = fc.nat({ max: 1000 });
const quantityChoice: fc.Arbitrary<QuantityChoice> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('share' as const), p: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'all' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'more' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('fixed' as const), q: fc.constantFrom(...PART_AMOUNTS) }) },
);

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('create' as const),
      kind: fc.constantFrom('verra' as const, 'gs' as const, 'range' as const, 'amount' as const),
      n: fc.nat({ max: 2 }),
      first: fc.nat({ max: 600 }),
      len: fc.integer({ min: 1, max: 300 }),
      amount: fc.constantFrom(...AMOUNTS),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('createAgain' as const), who }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('split' as const), who, q: quantityChoice, rid }) },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('retirePart' as const),
      who,
      q: quantityChoice,
      rid,
      beneficiary: fc.constantFrom(...BENEFICIARIES),
      retireNow: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('cancelPart' as const), who, q: quantityChoice, rid, reason: fc.constantFrom(...REASONS) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('request' as const), who, beneficiary: fc.constantFrom(...BENEFICIARIES) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('retire' as const), who }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('fail' as const), who }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('cancel' as const), who, reason: fc.constantFrom(...REASONS) }) },
);

function serialOf(o: Extract<Op, { t: 'create' }>): { serialNumber: string; registry: string; quantity: string; unitRange?: UnitRange } {
  const last = o.first + o.len - 1;
  const quantity = String(o.len);
  switch (o.kind) {
    case 'verra':
      return { registry: 'Verra', quantity, serialNumber: `${19298 + o.n}-${o.first}-${last}-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0` };
    case 'gs':
      return { registry: 'Gold Standard', quantity, serialNumber: `GS1-1-TR-GS7652-12-2025-${29983 + o.n}-${o.first}-${last}` };
    case 'range':
      return { registry: 'Verra', quantity, serialNumber: `BLK-${o.n}`, unitRange: { first: o.first, last } };
    case 'amount':
      return { registry: 'Gold Standard', quantity: o.amount, serialNumber: `AMT-${o.n}` };
  }
}

// Decide must never write to the state it is handed.
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    if (value instanceof Map) for (const v of value.values()) deepFreeze(v);
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Micro-units, for the shares of an amount-only credit: the test's own arithmetic, not quantity.ts's. */
const micro = (q: string): bigint => {
  const [i = '0', f = ''] = q.split('.');
  return BigInt(i) * 1_000_000n + BigInt(f.padEnd(6, '0'));
};
const fromMicro = (m: bigint): string => {
  const f = (m % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return `${m / 1_000_000n}${f ? `.${f}` : ''}`;
};

function quantityFor(choice: QuantityChoice, credit: ExistingCredit): string {
  switch (choice.t) {
    case 'all':
      return credit.quantity;
    case 'more':
      return credit.units ? String(Number(credit.quantity) + 1) : addQuantities(credit.quantity, '0.000001');
    case 'fixed':
      return choice.q;
    case 'share': {
      if (credit.units) return String(Math.max(1, Math.floor(Number(credit.quantity) * choice.p)));
      const m = (micro(credit.quantity) * BigInt(Math.round(choice.p * 1000))) / 1000n;
      return fromMicro(m > 0n ? m : 1n);
    }
  }
}

/** The error a reference reading of the rules expects, or null when the command should go through (or be a no-op). */
type Expect = DomainErrorCode | null;

function expectSplit(parent: ExistingCredit, quantity: string, requestId: string): Expect | 'noop' {
  const earlier = parent.splits.get(requestId);
  if (earlier) return compareQuantity(earlier.quantity, quantity) === 0 ? 'noop' : 'REQUEST_ID_REUSED';
  if (parent.status === 'retired') return 'ALREADY_RETIRED';
  if (parent.status === 'cancelled') return 'ALREADY_CANCELLED';
  if (parent.pending) return 'RETIREMENT_PENDING';
  if (compareQuantity(quantity, parent.quantity) >= 0) return 'INSUFFICIENT_QUANTITY';
  if (parent.units && !isWholeQuantity(quantity)) return 'INVALID_QUANTITY';
  return null;
}

function expectRequest(c: ExistingCredit, beneficiary: string): Expect | 'noop' {
  if (c.status === 'retired') return 'ALREADY_RETIRED';
  if (c.status === 'cancelled') return 'ALREADY_CANCELLED';
  if (c.pending) return c.pending.beneficiary === beneficiary ? 'noop' : 'RETIREMENT_PENDING_DIFFERS';
  return null;
}

function expectCancel(c: ExistingCredit, reason: string): Expect | 'noop' {
  if (c.status === 'cancelled') return c.cancellation.reason === reason ? 'noop' : 'ALREADY_CANCELLED';
  if (c.status === 'retired') return 'ALREADY_RETIRED';
  if (c.pending) return 'RETIREMENT_PENDING';
  return null;
}

/**
 * The streams, as PostgreSQL would hold them. A transaction stages its
 * appends and is applied only if nothing in it threw.
 */
class Ledger {
  readonly streams = new Map<string, RecordedEvent[]>();
  readonly states = new Map<string, ExistingCredit>();
  /** Issued credits in the order they were issued, with what they were issued with. */
  readonly issued = new Map<string, { quantity: string; units: UnitRange | null }>();
  private clock = 0;

  get ids(): string[] {
    return [...this.states.keys()];
  }

  pick(n: number): string | undefined {
    const ids = this.ids;
    return ids.length === 0 ? undefined : ids[n % ids.length];
  }

  transaction<T>(work: (tx: Tx) => T): T {
    const tx = new Tx(this, new Date(T0 + this.clock++ * 1000));
    const result = work(tx);
    tx.commit();
    return result;
  }

  eventCount(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.length;
    return n;
  }
}

class Tx {
  private readonly staged = new Map<string, { events: RecordedEvent[]; state: ExistingCredit }>();

  constructor(
    private readonly ledger: Ledger,
    private readonly now: Date,
  ) {}

  state(id: string): CreditState {
    const s = this.staged.get(id)?.state ?? this.ledger.states.get(id);
    return s ? deepFreeze(s) : initialState();
  }

  existing(id: string): ExistingCredit {
    const s = this.state(id);
    if (s.status === 'absent') throw new DomainError('CREDIT_NOT_FOUND', `credit ${id} not found`);
    return s;
  }

  append(id: string, events: CreditEvent[]): void {
    if (events.length === 0) return;
    const version = (this.ledger.streams.get(id)?.length ?? 0) + (this.staged.get(id)?.events.length ?? 0);
    let state = this.state(id);
    const recorded = events.map((e, i) => ({ ...e, creditId: id, version: version + i + 1, actor: ACTOR, occurredAt: this.now }));
    for (const e of recorded) state = evolve(state, e);
    if (state.status === 'absent') throw new Error(`events of ${id} did not bring it into existence`);
    const earlier = this.staged.get(id)?.events ?? [];
    this.staged.set(id, { events: [...earlier, ...recorded], state });
  }

  commit(): void {
    for (const [id, { events, state }] of this.staged) {
      this.ledger.streams.set(id, [...(this.ledger.streams.get(id) ?? []), ...events]);
      this.ledger.states.set(id, state);
    }
  }

  /** What credits.split, retire with quantity and cancel with quantity do (server/credits/part.handler.ts), in memory. */
  actOnPart(parentId: string, requestId: string, quantity: string, follow: (c: ExistingCredit) => CreditEvent[], wholeAllowed: boolean): string {
    const parent = this.existing(parentId);
    const childId = splitChildId(parentId, requestId);
    if (wholeAllowed && !parent.splits.has(requestId) && compareQuantity(quantity, parent.quantity) === 0) {
      this.append(parentId, follow(parent));
      return parentId;
    }
    const events = decide({ type: 'split', childId, requestId, quantity }, parent);
    const [split] = events;
    if (!split) {
      this.append(childId, follow(this.existing(childId)));
      return childId;
    }
    if (split.type !== 'split') throw new Error('a split decides a split');
    this.append(parentId, events);
    this.append(childId, [carvedPart(parent, split.data)]);
    this.append(childId, follow(this.existing(childId)));
    return childId;
  }
}

const decided = (command: CreditCommand) => (c: ExistingCredit) => decide(command, c);

type StepResult = { refused: DomainErrorCode | null; expected: Expect | 'noop' };

/** Runs one op; returns what was refused (and what the reference expected), after checking it changed nothing. */
function step(ledger: Ledger, o: Op): StepResult | null {
  const before = { events: ledger.eventCount(), states: new Map(ledger.states) };
  const attempt = (expected: Expect | 'noop', work: (tx: Tx) => void): StepResult => {
    try {
      ledger.transaction(work);
      return { refused: null, expected };
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      // Refused: nothing written, no state replaced.
      expect(ledger.eventCount()).toBe(before.events);
      expect([...ledger.states].every(([id, s]) => before.states.get(id) === s)).toBe(true);
      return { refused: err.code, expected };
    }
  };

  if (o.t === 'create') {
    const parsed = createCreditInput.safeParse({ projectName: 'Property Hydro', vintage: 2018, ...serialOf(o) });
    if (!parsed.success) throw new Error(`the generator made an invalid create: ${parsed.error.message}`);
    const fields: CreditFields = parsed.data;
    const id = creditId(fields);
    const existing = ledger.states.get(id);
    if (existing) {
      // The same credit again: nothing to write.
      expect(decide({ type: 'create', fields }, existing)).toEqual([]);
      return null;
    }
    // What PostgreSQL refuses: a taken registry + serial, or units some credit of the block holds.
    const row = projectionOf({ status: 'active', ...heldBy(id, fields), pending: null, lastFailure: null });
    for (const other of ledger.states.values()) {
      const r = projectionOf(other);
      if (r.registryKey === row.registryKey && r.serialKey === row.serialKey) return null;
      if (r.registryKey === row.registryKey && r.blockKey !== null && r.blockKey === row.blockKey && overlaps(other.units, unitsOf(fields).units)) return null;
    }
    ledger.transaction((tx) => tx.append(id, decide({ type: 'create', fields }, tx.state(id))));
    ledger.issued.set(id, { quantity: fields.quantity, units: unitsOf(fields).units });
    return { refused: null, expected: null };
  }

  if (o.t === 'createAgain') {
    const issued = [...ledger.issued.keys()];
    const id = issued[o.who % Math.max(1, issued.length)];
    const state = id ? ledger.states.get(id) : undefined;
    if (!state) return null;
    expect(creditId(state.fields)).toBe(id);
    expect(decide({ type: 'create', fields: state.fields }, state)).toEqual([]);
    return null;
  }

  const id = ledger.pick(o.who);
  if (!id) return null;
  const credit = ledger.states.get(id);
  if (!credit) throw new Error('picked a credit that does not exist');

  switch (o.t) {
    case 'split': {
      const quantity = quantityFor(o.q, credit);
      const expected = expectSplit(credit, quantity, o.rid);
      const eventsBefore = ledger.eventCount();
      const r = attempt(expected, (tx) => tx.actOnPart(id, o.rid, quantity, () => [], false));
      if (expected === 'noop') expect(ledger.eventCount()).toBe(eventsBefore);
      return r;
    }
    case 'retirePart': {
      const quantity = quantityFor(o.q, credit);
      const whole = !credit.splits.has(o.rid) && compareQuantity(quantity, credit.quantity) === 0;
      const request: CreditCommand = { type: 'request_retirement', beneficiary: o.beneficiary, reason: null };
      let expected: Expect | 'noop';
      if (whole) {
        expected = expectRequest(credit, o.beneficiary);
      } else {
        expected = expectSplit(credit, quantity, o.rid);
        if (expected === 'noop') expected = expectRequest(ledger.states.get(splitChildId(id, o.rid)) as ExistingCredit, o.beneficiary);
      }
      let target = '';
      const r = attempt(expected, (tx) => {
        target = tx.actOnPart(id, o.rid, quantity, decided(request), true);
      });
      expect(r.refused !== null || target === (whole ? id : splitChildId(id, o.rid))).toBe(true);
      // The worker: retire what was requested, in a transaction of its own.
      if (r.refused === null && o.retireNow) ledger.transaction((tx) => tx.append(target, decide({ type: 'retire', attempts: 1 }, tx.state(target))));
      return r;
    }
    case 'cancelPart': {
      const quantity = quantityFor(o.q, credit);
      const whole = !credit.splits.has(o.rid) && compareQuantity(quantity, credit.quantity) === 0;
      let expected: Expect | 'noop';
      if (whole) {
        expected = expectCancel(credit, o.reason);
      } else {
        expected = expectSplit(credit, quantity, o.rid);
        if (expected === 'noop') expected = expectCancel(ledger.states.get(splitChildId(id, o.rid)) as ExistingCredit, o.reason);
      }
      return attempt(expected, (tx) => tx.actOnPart(id, o.rid, quantity, decided({ type: 'cancel', reason: o.reason }), true));
    }
    case 'request':
      return attempt(expectRequest(credit, o.beneficiary), (tx) =>
        tx.append(id, decide({ type: 'request_retirement', beneficiary: o.beneficiary, reason: null }, tx.existing(id))),
      );
    case 'retire': {
      const expected: Expect | 'noop' =
        credit.status === 'retired' ? 'noop' : credit.status === 'cancelled' ? 'ALREADY_CANCELLED' : credit.pending ? null : 'NO_PENDING_RETIREMENT';
      return attempt(expected, (tx) => tx.append(id, decide({ type: 'retire', attempts: 1 }, tx.existing(id))));
    }
    case 'fail':
      return attempt(credit.status === 'active' && credit.pending ? null : 'noop', (tx) =>
        tx.append(id, decide({ type: 'fail_retirement', failedReason: 'registry timeout', attempts: 3 }, tx.existing(id))),
      );
    case 'cancel':
      return attempt(expectCancel(credit, o.reason), (tx) => tx.append(id, decide({ type: 'cancel', reason: o.reason }, tx.existing(id))));
  }
}

function heldBy(id: string, fields: CreditFields) {
  const { units, blockKey } = unitsOf(fields);
  return { id, fields, createdAt: new Date(T0), version: 1, quantity: fields.quantity, units, blockKey, parentId: null, splits: new Map() };
}

const overlaps = (a: UnitRange | null, b: UnitRange | null): boolean => a !== null && b !== null && a.first <= b.last && b.first <= a.last;

/** The issued credit a credit descends from. */
function rootOf(ledger: Ledger, id: string): string {
  let current = id;
  for (let guard = 0; guard < 10_000; guard++) {
    const parent = ledger.states.get(current)?.parentId;
    if (!parent) return current;
    current = parent;
  }
  throw new Error(`lineage of ${id} does not end`);
}

function checkInvariants(ledger: Ledger): void {
  const naturalKeys = new Set<string>();
  const byBlock = new Map<string, { id: string; units: UnitRange }[]>();
  const lineages = new Map<string, ExistingCredit[]>();
  const totals = { issued: '0', active: '0', retired: '0', cancelled: '0' };

  for (const [id, state] of ledger.states) {
    // The replay of the stream is what the steps built, and the versions run 1, 2, 3…
    const stream = ledger.streams.get(id) ?? [];
    expect(stream.map((e) => e.version)).toEqual(stream.map((_, i) => i + 1));
    expect(replay(stream)).toEqual(state);
    expect(state.version).toBe(stream.length);

    expect(compareQuantity(state.quantity, '0')).toBe(1);
    if (state.units) {
      expect(state.quantity).toBe(String(unitCount(state.units)));
      // A Verra or Gold Standard credit is shown under the registry's serial of the units it holds.
      const shown = parseSerial(projectionOf(state).serialNumber);
      if (parseSerial(state.fields.serialNumber)) expect(shown?.units).toEqual(state.units);
      const key = `${projectionOf(state).registryKey}\u0000${state.blockKey ?? ''}`;
      byBlock.set(key, [...(byBlock.get(key) ?? []), { id, units: state.units }]);
    }

    // No two credits share a registry + serial (PostgreSQL's unique key would refuse the write).
    const row = projectionOf(state);
    const natural = `${row.registryKey}\u0000${row.serialKey}`;
    expect(naturalKeys.has(natural), `two credits with serial ${row.serialNumber}`).toBe(false);
    naturalKeys.add(natural);

    // Every split names the part it carved, and the part points back.
    for (const [requestId, s] of state.splits) {
      expect(s.childId).toBe(splitChildId(id, requestId));
      const part = ledger.states.get(s.childId);
      expect(part?.parentId).toBe(id);
      expect(part?.fields.quantity).toBe(s.quantity);
      const first = ledger.streams.get(s.childId)?.[0];
      expect(first?.type === 'split_from' && first.data.requestId === requestId && first.data.parentId === id).toBe(true);
      const parentSerial = parseSerial(state.fields.serialNumber);
      if (s.unitRange && parentSerial) expect(part?.fields.serialNumber).toBe(serialForUnits(parentSerial, s.unitRange));
      if (!s.unitRange) expect(part?.fields.serialNumber).toBe(`${state.fields.serialNumber}/split-${s.childId.slice(3, 15)}`);
    }

    const root = rootOf(ledger, id);
    lineages.set(root, [...(lineages.get(root) ?? []), state]);
    const bucket = state.status === 'active' ? 'active' : state.status;
    totals[bucket] = addQuantities(totals[bucket], state.quantity);
  }

  // Within a block, no unit is held twice: live credits, and retired or cancelled ones too.
  for (const holders of byBlock.values()) {
    const sorted = [...holders].sort((a, b) => a.units.first - b.units.first);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1];
      const cur = sorted[i];
      if (prev && cur) expect(cur.units.first, `${prev.id} and ${cur.id} share units`).toBeGreaterThan(prev.units.last);
    }
  }

  // Each issued credit's lineage holds exactly what was issued: the same quantity and, for a block, its units without gap or overlap.
  for (const [root, issued] of ledger.issued) {
    const lineage = lineages.get(root) ?? [];
    expect(addQuantities(...lineage.map((c) => c.quantity))).toBe(issued.quantity);
    totals.issued = addQuantities(totals.issued, issued.quantity);
    if (!issued.units) {
      expect(lineage.every((c) => c.units === null)).toBe(true);
      continue;
    }
    const ranges = lineage.map((c) => c.units).filter((u): u is UnitRange => u !== null);
    expect(ranges).toHaveLength(lineage.length);
    ranges.sort((a, b) => a.first - b.first);
    let next = issued.units.first;
    for (const r of ranges) {
      expect(r.first).toBe(next);
      next = r.last + 1;
    }
    expect(next).toBe(issued.units.last + 1);
  }
  expect(lineages.size).toBe(ledger.issued.size);
  expect(addQuantities(totals.active, totals.retired, totals.cancelled)).toBe(totals.issued);
  expect(subtractQuantity(totals.issued, addQuantities(totals.active, totals.retired, totals.cancelled))).toBe('0');
}

function run(ops: Op[]): { refusals: number; parts: number } {
  const ledger = new Ledger();
  let refusals = 0;
  for (const o of ops) {
    const r = step(ledger, o);
    if (r) {
      expect(r.refused, `${JSON.stringify(o)} expected ${String(r.expected)}`).toBe(r.expected === 'noop' ? null : r.expected);
      if (r.refused) refusals++;
    }
    checkInvariants(ledger);
  }
  const parts = [...ledger.states.values()].filter((s) => s.parentId !== null).length;
  return { refusals, parts };
}

describe('credit blocks under random histories', () => {
  it('conserve quantity, never hold a unit twice, and refuse exactly what the rules refuse', () => {
    let parts = 0;
    let refusals = 0;
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) => {
        const r = run(ops);
        parts += r.parts;
        refusals += r.refusals;
      }),
      { numRuns: 400 },
    );
    // The generator reaches both sides: parts carved, and commands refused.
    expect(parts).toBeGreaterThan(100);
    expect(refusals).toBeGreaterThan(100);
  });

  it('a history that starts with a block and works on it conserves too (denser splits)', () => {
    const block: Op = { t: 'create', kind: 'verra', n: 0, first: 935995787, len: 610, amount: '1' };
    fc.assert(
      fc.property(fc.array(op.filter((o) => o.t !== 'create'), { maxLength: 80 }), (ops) => {
        run([block, { t: 'create', kind: 'amount', n: 0, first: 0, len: 1, amount: '1000000.123456' }, ...ops]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('requestIds that are names on Object.prototype', () => {
  it('are keys like any other: each names its own part, and a repeat carves nothing', () => {
    const ledger = new Ledger();
    const block: Op = { t: 'create', kind: 'gs', n: 0, first: 1, len: 6630, amount: '1' };
    step(ledger, block);
    const [id] = ledger.ids;
    if (!id) throw new Error('no block');
    const ids = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
    for (const requestId of ids) {
      const r = step(ledger, { t: 'split', who: 0, q: { t: 'fixed', q: '1' }, rid: requestId });
      expect(r).toEqual({ refused: null, expected: null });
    }
    const events = ledger.eventCount();
    for (const requestId of ids) expect(step(ledger, { t: 'split', who: 0, q: { t: 'fixed', q: '1' }, rid: requestId })).toEqual({ refused: null, expected: 'noop' });
    expect(ledger.eventCount()).toBe(events);
    const state = ledger.states.get(id);
    expect(state?.quantity).toBe('6626');
    expect([...(state?.splits.keys() ?? [])]).toEqual(ids);
    expect(new Set(ids.map((r) => splitChildId(id, r))).size).toBe(ids.length);
    // Another quantity under one of them is refused, naming the field.
    const reused = step(ledger, { t: 'split', who: 0, q: { t: 'fixed', q: '2.5' }, rid: '__proto__' });
    expect(reused?.refused).toBe('REQUEST_ID_REUSED');
    checkInvariants(ledger);
  });
});
