import { DomainError } from './errors.js';
import type { CreditEvent, CreditFields, UnitRange } from './events.js';
import { compareQuantity, isWholeQuantity } from './quantity.js';
import { parseSerial, serialForUnits } from './serial-ranges.js';
import type { CreditState, ExistingCredit } from './state.js';

/**
 * Commands carry everything decide needs, time included, so decide stays
 * pure: same state + same command → same events, every time.
 */
export type CreditCommand =
  | { type: 'create'; fields: CreditFields }
  /** Carve `quantity` (the lowest units, for a block) off this credit into the credit `childId`. */
  | { type: 'split'; childId: string; requestId: string; quantity: string }
  | { type: 'request_retirement'; beneficiary: string; reason: string | null }
  | { type: 'retire'; attempts: number }
  | { type: 'fail_retirement'; failedReason: string; attempts: number }
  | { type: 'cancel'; reason: string };

/** Returns the events a command produces, [] for an idempotent repeat, or throws DomainError. */
export function decide(command: CreditCommand, state: CreditState): CreditEvent[] {
  switch (command.type) {
    case 'create':
      // The ID is derived from the canonical fields, so an existing stream means
      // the same credit: creating it again changes nothing.
      return state.status === 'absent' ? [{ type: 'created', data: command.fields }] : [];
    case 'split':
      return split(command, state);
    case 'request_retirement':
      return requestRetirement(command, state);
    case 'retire':
      return retire(state, command.attempts);
    case 'fail_retirement':
      if (state.status === 'active' && state.pending) {
        return [{ type: 'retirement_failed', data: { failedReason: command.failedReason, attempts: command.attempts } }];
      }
      return [];
    case 'cancel':
      return cancel(command, state);
    default: {
      const unknown: never = command;
      throw new Error(`unknown command ${JSON.stringify(unknown)}`);
    }
  }
}

function mustExist(state: CreditState): ExistingCredit {
  if (state.status === 'absent') throw new DomainError('CREDIT_NOT_FOUND', 'credit not found');
  return state;
}

/** Retired and cancelled credits are final: nothing more may happen to their units. */
function mustBeActive(state: ExistingCredit, doing: string): Extract<ExistingCredit, { status: 'active' }> {
  if (state.status === 'retired') {
    const { retiredAt, beneficiary, reason } = state.retirement;
    throw new DomainError('ALREADY_RETIRED', `credit was already retired at ${retiredAt.toISOString()}; it cannot be ${doing}`, {
      retiredAt: retiredAt.toISOString(),
      beneficiary,
      reason,
    });
  }
  if (state.status === 'cancelled') {
    const { cancelledAt, reason } = state.cancellation;
    throw new DomainError('ALREADY_CANCELLED', `credit was cancelled at ${cancelledAt.toISOString()}; it cannot be ${doing}`, {
      cancelledAt: cancelledAt.toISOString(),
      reason,
    });
  }
  return state;
}

function noPendingRetirement(state: Extract<ExistingCredit, { status: 'active' }>, doing: string): void {
  if (state.pending) {
    throw new DomainError('RETIREMENT_PENDING', `a retirement of this credit is pending; it cannot be ${doing} until that request is retired or has failed`, {
      pending: { beneficiary: state.pending.beneficiary, reason: state.pending.reason },
    });
  }
}

function split(command: Extract<CreditCommand, { type: 'split' }>, state: CreditState): CreditEvent[] {
  const parent = mustExist(state);
  // The same request again is answered with what it did the first time, whatever has happened since.
  const earlier = parent.splits.get(command.requestId);
  if (earlier) {
    if (compareQuantity(earlier.quantity, command.quantity) === 0) return [];
    throw new DomainError('REQUEST_ID_REUSED', `requestId ${command.requestId} already split quantity ${earlier.quantity} off this credit, not ${command.quantity}: quantity differs`, {
      field: 'quantity',
      requestId: command.requestId,
      quantity: earlier.quantity,
      childId: earlier.childId,
    });
  }
  const active = mustBeActive(parent, 'split');
  noPendingRetirement(active, 'split');
  const left = active.quantity;
  const excess = compareQuantity(command.quantity, left);
  if (excess >= 0) {
    throw new DomainError(
      'INSUFFICIENT_QUANTITY',
      excess > 0
        ? `quantity ${command.quantity} is more than the ${left} this credit holds`
        : `quantity ${command.quantity} is all this credit holds; a part must leave something behind (act on the whole credit without a quantity)`,
      { field: 'quantity', requested: command.quantity, available: left },
    );
  }
  let unitRange: UnitRange | null = null;
  if (active.units) {
    if (!isWholeQuantity(command.quantity)) {
      throw new DomainError('INVALID_QUANTITY', `quantity ${command.quantity} must be a whole number of units for a credit that holds units`, {
        field: 'quantity',
      });
    }
    unitRange = { first: active.units.first, last: active.units.first + Number(command.quantity) - 1 };
  }
  return [{ type: 'split', data: { childId: command.childId, requestId: command.requestId, quantity: command.quantity, unitRange } }];
}

function requestRetirement(command: Extract<CreditCommand, { type: 'request_retirement' }>, state: CreditState): CreditEvent[] {
  const active = mustBeActive(mustExist(state), 'retired again');
  const { pending } = active;
  if (pending) {
    const differing = [
      ...(pending.beneficiary !== command.beneficiary ? ['beneficiary'] : []),
      ...(pending.reason !== command.reason ? ['reason'] : []),
    ];
    if (differing.length === 0) return [];
    throw new DomainError(
      'RETIREMENT_PENDING_DIFFERS',
      `a different retirement request is pending; differing fields: ${differing.join(', ')}`,
      { differingFields: differing, pending: { beneficiary: pending.beneficiary, reason: pending.reason } },
    );
  }
  return [{ type: 'retirement_requested', data: { beneficiary: command.beneficiary, reason: command.reason } }];
}

function retire(state: CreditState, attempts: number): CreditEvent[] {
  const credit = mustExist(state);
  if (credit.status === 'retired') return [];
  const active = mustBeActive(credit, 'retired');
  if (!active.pending) throw new DomainError('NO_PENDING_RETIREMENT', 'no retirement has been requested');
  const { beneficiary, reason, requestedBy, requestedAt } = active.pending;
  return [{ type: 'retired', data: { beneficiary, reason, requestedBy, requestedAt: requestedAt.toISOString(), attempts } }];
}

function cancel(command: Extract<CreditCommand, { type: 'cancel' }>, state: CreditState): CreditEvent[] {
  const credit = mustExist(state);
  // The same cancellation again changes nothing; another one is refused.
  if (credit.status === 'cancelled' && credit.cancellation.reason === command.reason) return [];
  const active = mustBeActive(credit, 'cancelled');
  noPendingRetirement(active, 'cancelled');
  return [{ type: 'cancelled', data: { reason: command.reason } }];
}

/**
 * The new credit a `split` carves off `parent` (its state before the split):
 * the parent's project, registry and vintage; the part's quantity and units;
 * and a serial of its own: the registry's serial of its sub-range for a
 * Verra or Gold Standard block, otherwise the parent's serial followed by
 * "/split-" and the first 12 hex digits of the new credit's ID.
 */
export function carvedPart(parent: ExistingCredit, split: Extract<CreditEvent, { type: 'split' }>['data']): Extract<CreditEvent, { type: 'split_from' }> {
  const { projectName, registry, vintage, serialNumber } = parent.fields;
  const parsed = parseSerial(serialNumber);
  const fields: CreditFields = {
    projectName,
    registry,
    vintage,
    quantity: split.quantity,
    serialNumber: parsed && split.unitRange ? serialForUnits(parsed, split.unitRange) : `${serialNumber}/split-${split.childId.slice(3, 15)}`,
    // Kept only where the serial does not spell the units.
    ...(split.unitRange && !parsed ? { unitRange: split.unitRange } : {}),
  };
  return { type: 'split_from', data: { parentId: parent.id, requestId: split.requestId, fields, blockKey: parent.blockKey } };
}
