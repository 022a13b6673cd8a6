import { DomainError } from './errors.js';
import type { CreditEvent, CreditFields } from './events.js';
import type { CreditState } from './state.js';

/**
 * Commands carry everything decide needs, time included, so decide stays
 * pure: same state + same command → same events, every time.
 */
export type CreditCommand =
  | { type: 'create'; fields: CreditFields }
  | { type: 'request_retirement'; beneficiary: string; reason: string | null }
  | { type: 'retire'; attempts: number }
  | { type: 'fail_retirement'; failedReason: string; attempts: number };

/** Returns the events a command produces, [] for an idempotent repeat, or throws DomainError. */
export function decide(command: CreditCommand, state: CreditState): CreditEvent[] {
  switch (command.type) {
    case 'create':
      // The ID is derived from the canonical fields, so an existing stream means
      // the same credit: creating it again changes nothing.
      return state.status === 'absent' ? [{ type: 'created', data: command.fields }] : [];
    case 'request_retirement':
      return requestRetirement(command, state);
    case 'retire':
      return retire(state, command.attempts);
    case 'fail_retirement':
      if (state.status === 'active' && state.pending) {
        return [{ type: 'retirement_failed', data: { failedReason: command.failedReason, attempts: command.attempts } }];
      }
      return [];
    default: {
      const unknown: never = command;
      throw new Error(`unknown command ${JSON.stringify(unknown)}`);
    }
  }
}

function requestRetirement(
  command: Extract<CreditCommand, { type: 'request_retirement' }>,
  state: CreditState,
): CreditEvent[] {
  if (state.status === 'absent') throw new DomainError('CREDIT_NOT_FOUND', 'credit not found');
  if (state.status === 'retired') {
    const { retiredAt, beneficiary, reason } = state.retirement;
    throw new DomainError('ALREADY_RETIRED', `credit was already retired at ${retiredAt.toISOString()}`, {
      retiredAt: retiredAt.toISOString(),
      beneficiary,
      reason,
    });
  }
  const { pending } = state;
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
  if (state.status === 'absent') throw new DomainError('CREDIT_NOT_FOUND', 'credit not found');
  if (state.status === 'retired') return [];
  if (!state.pending) throw new DomainError('NO_PENDING_RETIREMENT', 'no retirement has been requested');
  const { beneficiary, reason, requestedBy, requestedAt } = state.pending;
  return [{ type: 'retired', data: { beneficiary, reason, requestedBy, requestedAt: requestedAt.toISOString(), attempts } }];
}
