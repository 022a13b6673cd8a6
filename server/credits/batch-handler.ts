import type { EntityManager } from '@mikro-orm/postgresql';
import { lockingTransaction, type Decision, type Handled, type HandleOptions } from './command-handler.js';
import { lockFreeCredits } from './credit-store.js';
import { DomainError } from './errors.js';
import { appendWithProjections, byCredit, chained, headOf, readStreams } from './event-store.js';
import type { NewEvent } from './events.js';
import { projectionDiff, projectionOf } from './projection.js';
import { replay, type CreditState } from './state.js';

/*
 * Several commands, each on its own credit, in one transaction: the worker's
 * way of paying one commit (and one round trip per step) for a handful of
 * retirements instead of one each. Every credit is still locked, read,
 * decided and recorded on its own terms, exactly as handleCommand does it;
 * only the statements are shared. What this path cannot take without waiting
 * — a credit whose row someone else holds, or that has no row — it hands back
 * for handleCommand to do alone, which waits for the lock (or mends the row).
 */

export type BatchCommand = {
  creditId: string;
  decide: (state: Exclude<CreditState, { status: 'absent' }>) => Decision;
};

/** Each command's own outcome: handled, refused by a rule (nothing written for it), or to be done alone. */
export type BatchOutcome = { kind: 'handled'; handled: Handled } | { kind: 'refused'; error: DomainError } | { kind: 'alone' };

type Decided = { command: BatchCommand; before: Handled['before']; after: Handled['after']; next: NewEvent[]; repaired: boolean };

/**
 * Outcomes in the order of `commands`, whose credit IDs must differ. Nothing
 * commits unless all of the batch's writes do; an error outside the rules
 * (the connection, a constraint) rejects the whole batch and writes nothing.
 */
export async function handleCommands(em: EntityManager, commands: BatchCommand[], opts: HandleOptions): Promise<BatchOutcome[]> {
  const ids = commands.map((c) => c.creditId);
  if (new Set(ids).size !== ids.length) throw new Error('a batch holds each credit once');
  return lockingTransaction(em, ids.join(', '), opts.lockTimeoutMs, async (tx) => {
    // Never waits for a row lock: the rows held elsewhere are simply not ours this time.
    const rows = new Map((await lockFreeCredits(tx, ids)).map((row) => [row.id, row]));
    if (rows.size > 0) await opts.afterLock?.();
    // As in handleCommand, the streams are read by a statement that starts after the locks are held.
    const streams = await readStreams(tx, [...rows.keys()]);
    const outcomes = new Map<string, BatchOutcome>();
    const decided: Decided[] = [];
    for (const command of commands) {
      const row = rows.get(command.creditId);
      const history = streams.get(command.creditId) ?? [];
      const before = replay(history);
      if (!row || before.status === 'absent') {
        outcomes.set(command.creditId, { kind: 'alone' });
        continue;
      }
      let decision: Decision;
      try {
        decision = command.decide(before);
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        outcomes.set(command.creditId, { kind: 'refused', error: err });
        continue;
      }
      const next = chained(command.creditId, headOf(history), decision.events, { actor: decision.actor, now: opts.now });
      const after = replay(next, before);
      if (after.status === 'absent') throw new Error(`credit ${command.creditId} vanished from its own stream`);
      // A row that disagrees with its events (only a hand edit can do that) is mended here too.
      const repaired = next.length === 0 && projectionDiff(projectionOf(after), row).length > 0;
      decided.push({ command, before, after, next, repaired });
    }

    const written = decided.filter((d) => d.next.length > 0 || d.repaired);
    const stored = await appendWithProjections(
      tx,
      written.flatMap((d) => d.next),
      written.map((d) => projectionOf(d.after)),
    );
    const appendedTo = byCredit(stored);
    for (const d of decided) {
      const appended = appendedTo.get(d.command.creditId) ?? [];
      outcomes.set(d.command.creditId, { kind: 'handled', handled: { before: d.before, after: d.after, appended, projectionRepaired: d.repaired } });
    }
    return ids.map((id) => outcomes.get(id) ?? { kind: 'alone' });
  });
}
