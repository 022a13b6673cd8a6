import { expect } from 'vitest';
import { decide, type CreditCommand } from '../../server/credits/decider.js';
import { DomainError, type DomainErrorCode } from '../../server/credits/errors.js';
import type { CreditEvent, RecordedEvent } from '../../server/credits/events.js';
import { replay, type CreditState } from '../../server/credits/state.js';

/*
 * given(history).when(command).then(expectedEvents) | .thenThrows(code, details?)
 *
 * Tests write domain events only; the envelope is filled in deterministically
 * (version n, one minute apart from T0, DEFAULT_ACTOR) unless an event
 * overrides it. The chain is deliberately not a promise: do not `await` or
 * return it from a test, because its `then` would be called as one.
 */

export const TEST_CREDIT_ID = `cc_${'ab'.repeat(32)}`;
export const DEFAULT_ACTOR = 'key_test';
export const T0 = new Date('2024-03-01T12:00:00.000Z');

type Envelope = Pick<RecordedEvent, 'creditId' | 'version' | 'actor' | 'occurredAt'>;
export type GivenEvent = CreditEvent & Partial<Envelope>;

export const minutesAfterT0 = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);

export function record(events: readonly GivenEvent[]): RecordedEvent[] {
  return events.map((event, i) => ({
    creditId: TEST_CREDIT_ID,
    version: i + 1,
    actor: DEFAULT_ACTOR,
    occurredAt: minutesAfterT0(i),
    ...event,
  }));
}

// A decider that mutated the state it was handed would corrupt cached
// aggregates; freezing makes such a write throw (modules run in strict mode).
// The state is cloned first so the tests' own event fixtures stay unfrozen.
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export function given(events: readonly GivenEvent[] = []) {
  const history = record(events);
  const state: CreditState = deepFreeze(structuredClone(replay(history)));
  return {
    history,
    state,
    when(command: CreditCommand) {
      return {
        then(expected: readonly CreditEvent[]): void {
          if (typeof expected === 'function') {
            throw new TypeError('decider-spec chains are not promises: do not await or return them');
          }
          expect(decide(command, state)).toEqual(expected);
        },
        thenThrows(code: DomainErrorCode, details?: Record<string, unknown>): DomainError {
          let produced: CreditEvent[];
          try {
            produced = decide(command, state);
          } catch (error) {
            expect(error).toBeInstanceOf(DomainError);
            const domainError = error as DomainError;
            expect(domainError.code).toBe(code);
            if (details) expect(domainError.details).toMatchObject(details);
            return domainError;
          }
          return expect.fail(`expected DomainError ${code}, but decide returned ${JSON.stringify(produced)}`);
        },
      };
    },
  };
}
