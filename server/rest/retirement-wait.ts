import { setTimeout as sleep } from 'node:timers/promises';
import type { EntityManager } from '@mikro-orm/postgresql';
import { readStream } from '../credits/event-store.js';
import type { StoredEvent } from '../credits/events.js';
import { replay } from '../credits/state.js';

/** First pause between looks, doubled up to the last: a quick worker is seen quickly, a slow one costs few queries. */
const FIRST_PAUSE_MS = 25;
const LONGEST_PAUSE_MS = 250;

/**
 * The credit's `retired` event once the worker has written it, looking at
 * most for `waitMs`; null when it is not there by then, or when the request
 * ended otherwise (failed, cancelled), which no wait would change.
 * PostgreSQL is asked, never the queue: it is where `retired` is decided.
 */
export async function awaitRetiredEvent(em: EntityManager, creditId: string, waitMs: number): Promise<StoredEvent | null> {
  const deadline = Date.now() + waitMs;
  let pause = FIRST_PAUSE_MS;
  for (;;) {
    const events = await readStream(em, creditId);
    const retired = events.find((e) => e.type === 'retired');
    if (retired) return retired;
    const state = replay(events);
    if (state.status !== 'active' || !state.pending) return null;
    const left = deadline - Date.now();
    if (left <= 0) return null;
    await sleep(Math.min(pause, left));
    pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
  }
}
