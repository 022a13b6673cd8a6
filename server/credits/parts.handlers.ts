import type { EntityManager } from '@mikro-orm/postgresql';
import { handleCommand } from './command-handler.js';
import { decide } from './decider.js';
import { actOnPart } from './part.handler.js';
import { creditView, projectionOf, type CreditView } from './projection.js';
import type { ExistingCredit } from './state.js';

/*
 * credits.split and credits.cancel: thin over the command handler and
 * actOnPart. (credits.retire with a quantity is in retire.handler.ts: it
 * also enqueues.)
 */

type Opts = { actor: string; now: Date; lockTimeoutMs: number };

const view = (state: ExistingCredit): CreditView => creditView(projectionOf(state));

/** Carves `quantity` off a credit into a new one; the same requestId again answers the same part and writes nothing. */
export async function splitCredit(em: EntityManager, req: { id: string; quantity: string; requestId: string }, opts: Opts) {
  const o = await actOnPart(em, { parentId: req.id, quantity: req.quantity, requestId: req.requestId }, () => ({ events: [] }), { ...opts, wholeAllowed: false });
  return { credit: view(o.credit), parent: view(o.parent), created: o.carved };
}

/**
 * Ends a credit, or a part carved off it, as cancelled. The same cancellation
 * again answers `cancelled: false` and writes nothing.
 */
/** One object type, not a union of the branches': the client package's contract spells outputs as plain data. */
export type CancelAnswer = { credit: CreditView; cancelled: boolean; partOf?: string };

export async function cancelCredit(
  em: EntityManager,
  req: { id: string; reason: string; part?: { quantity: string; requestId: string } },
  opts: Opts,
): Promise<CancelAnswer> {
  const command = { type: 'cancel', reason: req.reason } as const;
  if (req.part) {
    const o = await actOnPart(em, { parentId: req.id, ...req.part }, (credit) => ({ events: decide(command, credit) }), opts);
    return { credit: view(o.credit), cancelled: o.appended.some((e) => e.type === 'cancelled'), ...(o.creditId !== req.id ? { partOf: req.id } : {}) };
  }
  const h = await handleCommand(em, req.id, (state) => ({ events: decide(command, state), actor: opts.actor }), opts);
  return { credit: view(h.after), cancelled: h.appended.length > 0 };
}
