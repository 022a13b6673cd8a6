import type { CreditFields, RecordedEvent } from './events.js';

export type PendingRetirement = {
  beneficiary: string;
  reason: string | null;
  requestedBy: string;
  requestedAt: Date;
};

export type Retirement = PendingRetirement & { retiredAt: Date; retiredBy: string; attempts: number };

export type CreditState =
  | { status: 'absent' }
  | {
      status: 'active';
      id: string;
      fields: CreditFields;
      createdAt: Date;
      version: number;
      pending: PendingRetirement | null;
      lastFailure: { failedReason: string; failedAt: Date; attempts: number } | null;
    }
  | {
      status: 'retired';
      id: string;
      fields: CreditFields;
      createdAt: Date;
      version: number;
      retirement: Retirement;
    };

export const initialState = (): CreditState => ({ status: 'absent' });

/** Folds one recorded event into the state. The only way state changes. */
export function evolve(state: CreditState, event: RecordedEvent): CreditState {
  switch (event.type) {
    case 'created':
      return {
        status: 'active',
        id: event.creditId,
        fields: event.data,
        createdAt: event.occurredAt,
        version: event.version,
        pending: null,
        lastFailure: null,
      };
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
    case 'retired':
      if (state.status !== 'active') return state;
      return {
        status: 'retired',
        id: state.id,
        fields: state.fields,
        createdAt: state.createdAt,
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
