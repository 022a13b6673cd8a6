import type { EntityManager } from '@mikro-orm/postgresql';
import { sessionLockTimeoutMs } from '../db/mikro-orm.config.js';
import { isLockTimeout } from '../db/orm.js';
import { lockCredit, saveCredit } from './credit-store.js';
import { DomainError } from './errors.js';
import { appendWithProjections, chained, headOf, readStream } from './event-store.js';
import type { CreditEvent, StoredEvent } from './events.js';
import { projectionDiff, projectionOf } from './projection.js';
import { replay, type CreditState } from './state.js';

/*
 * The one way a credit's stream changes after its creation (Emmett's
 * CommandHandler): in one transaction, lock the credit's row, load its events,
 * decide, append, and bring its projection row up to date. The API's retire
 * request, the worker and the admin script's rebuild all go through here.
 */

export type Decision = {
  events: CreditEvent[];
  /** Who the events are recorded as done by (ignored when there are none). */
  actor: string;
};

export type HandleOptions = {
  /** How long to wait for the row lock (DB_LOCK_TIMEOUT_MS); past it the caller gets CREDIT_BUSY. */
  lockTimeoutMs: number;
  now: Date;
  /** Runs once the row lock is held, before the stream is read (test-only fault injection). */
  afterLock?: () => Promise<void>;
};

export type Handled = {
  /** The state the decision was made on. */
  before: Exclude<CreditState, { status: 'absent' }>;
  after: Exclude<CreditState, { status: 'absent' }>;
  appended: StoredEvent[];
  /** No event was appended, but the projection row was missing or differed from the replay and has been rewritten. */
  projectionRepaired: boolean;
};

/**
 * A transaction that waits at most `lockTimeoutMs` for any lock it needs; a
 * lock held longer by someone else ends it with DomainError CREDIT_BUSY
 * (retryable), so a stuck lock costs one caller an error, not the pool its
 * connections.
 */
export async function lockingTransaction<T>(em: EntityManager, creditId: string, lockTimeoutMs: number, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  try {
    return await em.transactional(async (tx) => {
      // Connections already start with DB_LOCK_TIMEOUT_MS (ormConfig): only a different wait costs a round trip.
      if (sessionLockTimeoutMs(tx.config) !== lockTimeoutMs) await tx.execute(`set local lock_timeout = ${Math.trunc(lockTimeoutMs)}`);
      return work(tx);
    });
  } catch (err) {
    if (isLockTimeout(err)) throw new DomainError('CREDIT_BUSY', `credit ${creditId} is busy; retry shortly`);
    throw err;
  }
}

/**
 * Throws DomainError CREDIT_NOT_FOUND when the credit has no events,
 * CREDIT_BUSY when its row stays locked past `lockTimeoutMs`, and whatever
 * `decide` throws; nothing is written in any of those cases.
 */
export async function handleCommand(
  em: EntityManager,
  creditId: string,
  decide: (state: Exclude<CreditState, { status: 'absent' }>) => Decision,
  opts: HandleOptions,
): Promise<Handled> {
  return lockingTransaction(em, creditId, opts.lockTimeoutMs, async (tx) => {
    const row = await lockCredit(tx, creditId);
    await opts.afterLock?.();
    // Read only now, in a statement of its own: a statement that waited for the lock would see the stream as it was
    // before the previous holder committed. A missing row (only a hand edit removes one) is rebuilt below.
    const history = await readStream(tx, creditId);
    const before = replay(history);
    if (before.status === 'absent') throw new DomainError('CREDIT_NOT_FOUND', `credit ${creditId} not found`);
    const { events, actor } = decide(before);
    const next = chained(creditId, headOf(history), events, { actor, now: opts.now });
    const after = replay(next, before);
    if (after.status === 'absent') throw new Error(`credit ${creditId} vanished from its own stream`);
    const projection = projectionOf(after);
    if (next.length > 0) {
      const appended = await appendWithProjections(tx, next, [projection]);
      return { before, after, appended, projectionRepaired: false };
    }
    // A row that disagrees with its events (only a hand edit can do that) is mended by whoever touches the credit next.
    const projectionRepaired = !row || projectionDiff(projection, row).length > 0;
    if (projectionRepaired) await saveCredit(tx, projection);
    return { before, after, appended: [], projectionRepaired };
  });
}
