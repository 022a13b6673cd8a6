import type { CreditFields, RecordedEvent, UnitRange } from './events.js';
import { subtractQuantity } from './quantity.js';
import { parseSerial, serialForUnits, unitCount } from './serial-ranges.js';
import { canonicalSerial } from './canonical-id.js';

export type PendingRetirement = {
  beneficiary: string;
  reason: string | null;
  requestedBy: string;
  requestedAt: Date;
};

export type Retirement = PendingRetirement & { retiredAt: Date; retiredBy: string; attempts: number };

export type Cancellation = { reason: string; cancelledAt: Date; cancelledBy: string };

/** A part carved off this credit, by the request that carved it. */
export type SplitRecord = { childId: string; quantity: string; unitRange: UnitRange | null };

/** What every existing credit has, whatever its status. */
export type Holding = {
  id: string;
  /** As issued (or carved off its parent): what the credit's ID was made from. */
  fields: CreditFields;
  createdAt: Date;
  version: number;
  /** What the credit holds now: its issued quantity less every part split off it. */
  quantity: string;
  /** The units it holds now, for a block; null for an amount-only credit. */
  units: UnitRange | null;
  /** The issued block its units belong to (canonical), shared by every part of it; null for amount-only credits. */
  blockKey: string | null;
  /** The credit this one was carved off, or null for an issued block. */
  parentId: string | null;
  /** By requestId. A Map, not an object: a requestId such as "__proto__" must be just a key. */
  splits: ReadonlyMap<string, SplitRecord>;
};

export type CreditState =
  | { status: 'absent' }
  | (Holding & {
      status: 'active';
      pending: PendingRetirement | null;
      lastFailure: { failedReason: string; failedAt: Date; attempts: number } | null;
    })
  | (Holding & { status: 'retired'; retirement: Retirement })
  | (Holding & { status: 'cancelled'; cancellation: Cancellation });

export type ExistingCredit = Exclude<CreditState, { status: 'absent' }>;

export const initialState = (): CreditState => ({ status: 'absent' });

/**
 * The units and block of an issued credit: given with it, or read from its
 * serial (Verra, Gold Standard). The block is the serial without its range,
 * or, for units given with a serial that spells none, the serial itself. A
 * serial whose range does not count the credit's quantity (only credits from
 * before units were read could have one) leaves the credit amount-only.
 */
export function unitsOf(fields: CreditFields): { units: UnitRange | null; blockKey: string | null } {
  const parsed = parseSerial(fields.serialNumber);
  if (parsed && String(unitCount(parsed.units)) === fields.quantity) return { units: parsed.units, blockKey: canonicalSerial(parsed.blockKey) };
  return fields.unitRange ? { units: fields.unitRange, blockKey: canonicalSerial(fields.serialNumber) } : { units: null, blockKey: null };
}

/**
 * The serial a credit goes by now. A Verra or Gold Standard block goes by the
 * registry's serial of the units it holds now, as the registry names what is
 * left of a block once part of it is retired: after its lowest units are split
 * off, the rest of 19298-935995787-935996396-… is 19298-935995805-935996396-….
 * The serial it was issued under stays in its first event (and its ID). Any
 * other credit keeps the serial it was issued with.
 */
export function currentSerial(credit: Pick<Holding, 'fields' | 'units'>): string {
  const { serialNumber } = credit.fields;
  const parsed = parseSerial(serialNumber);
  if (!parsed || !credit.units) return serialNumber;
  if (parsed.units.first === credit.units.first && parsed.units.last === credit.units.last) return serialNumber;
  return serialForUnits(parsed, credit.units);
}

function holding(e: RecordedEvent, fields: CreditFields, origin: { units: UnitRange | null; blockKey: string | null; parentId: string | null }): Holding {
  return { id: e.creditId, fields, createdAt: e.occurredAt, version: e.version, quantity: fields.quantity, splits: new Map(), ...origin };
}

/** Folds one recorded event into the state. The only way state changes. */
export function evolve(state: CreditState, event: RecordedEvent): CreditState {
  switch (event.type) {
    case 'created':
      return { status: 'active', ...holding(event, event.data, { ...unitsOf(event.data), parentId: null }), pending: null, lastFailure: null };
    case 'split_from': {
      const { fields, blockKey, parentId } = event.data;
      // Its units are given, or spelled by its serial as for an issued block; its block is its parent's.
      return { status: 'active', ...holding(event, fields, { units: unitsOf(fields).units, blockKey, parentId }), pending: null, lastFailure: null };
    }
    case 'split': {
      if (state.status !== 'active') return state;
      const { childId, requestId, quantity, unitRange } = event.data;
      return {
        ...state,
        version: event.version,
        quantity: subtractQuantity(state.quantity, quantity),
        // Parts are carved off the low end, so what is left starts after the part.
        units: state.units && unitRange ? { first: unitRange.last + 1, last: state.units.last } : state.units,
        splits: new Map(state.splits).set(requestId, { childId, quantity, unitRange }),
      };
    }
    case 'retirement_requested':
      if (state.status !== 'active') return state;
      return {
        ...state,
        version: event.version,
        pending: {
          beneficiary: event.data.beneficiary,
          reason: event.data.reason,
          requestedBy: event.actor,
          requestedAt: event.occurredAt,
        },
      };
    case 'retirement_failed':
      if (state.status !== 'active') return state;
      return {
        ...state,
        version: event.version,
        pending: null,
        lastFailure: { failedReason: event.data.failedReason, failedAt: event.occurredAt, attempts: event.data.attempts },
      };
    case 'retired': {
      if (state.status !== 'active') return state;
      const { pending: _pending, lastFailure: _lastFailure, ...held } = state;
      return {
        ...held,
        status: 'retired',
        version: event.version,
        retirement: {
          beneficiary: event.data.beneficiary,
          reason: event.data.reason,
          requestedBy: event.data.requestedBy,
          requestedAt: new Date(event.data.requestedAt),
          retiredAt: event.occurredAt,
          retiredBy: event.actor,
          attempts: event.data.attempts,
        },
      };
    }
    case 'cancelled': {
      if (state.status !== 'active') return state;
      const { pending: _pending, lastFailure: _lastFailure, ...held } = state;
      return {
        ...held,
        status: 'cancelled',
        version: event.version,
        cancellation: { reason: event.data.reason, cancelledAt: event.occurredAt, cancelledBy: event.actor },
      };
    }
    default: {
      const unknown: never = event;
      throw new Error(`unknown event ${JSON.stringify(unknown)}`);
    }
  }
}

export const replay = (events: Iterable<RecordedEvent>, from: CreditState = initialState()): CreditState => {
  let state = from;
  for (const e of events) state = evolve(state, e);
  return state;
};
