/**
 * The credit stream's events. The log stores `type` and `data` (as payload);
 * who did it and when live on the envelope (actor, occurredAt), not in here.
 */
import type { UnitRange } from './serial-ranges.js';

export type { UnitRange };

export type CreditFields = {
  projectName: string;
  registry: string;
  vintage: number;
  /** Canonical decimal string, never a float: "10", "0.5", "1234.000001". With units, their count. */
  quantity: string;
  serialNumber: string;
  /**
   * The block's units, when given for a serial that does not spell them
   * (Verra and Gold Standard serials do: see serial-ranges.ts). Absent for
   * amount-only credits, and for serials whose range is read from the serial.
   */
  unitRange?: UnitRange;
};

export type CreditCreated = { type: 'created'; data: CreditFields };

/** On the parent: `quantity` (and, for a block, the lowest units) carved off into a new credit. */
export type CreditSplit = {
  type: 'split';
  data: { childId: string; requestId: string; quantity: string; unitRange: UnitRange | null };
};

/** The first event of a credit carved off another: its own fields, its block and where it came from. */
export type SplitFrom = {
  type: 'split_from';
  data: { parentId: string; requestId: string; fields: CreditFields; blockKey: string | null };
};

/** Units taken out of circulation by the registry (buffer pools, corrections, transfers), never to be used again. */
export type CreditCancelled = { type: 'cancelled'; data: { reason: string } };

export type RetirementRequested = {
  type: 'retirement_requested';
  data: { beneficiary: string; reason: string | null };
};

export type RetirementFailed = {
  type: 'retirement_failed';
  data: { failedReason: string; attempts: number };
};

export type CreditRetired = {
  type: 'retired';
  data: {
    beneficiary: string;
    reason: string | null;
    /** Key ID that asked for the retirement; it is also the event's actor (the worker acts on its behalf). */
    requestedBy: string;
    requestedAt: string;
    /** Worker attempts it took, transient failures included. */
    attempts: number;
  };
};

export type CreditEvent = CreditCreated | SplitFrom | CreditSplit | RetirementRequested | RetirementFailed | CreditRetired | CreditCancelled;
export type CreditEventType = CreditEvent['type'];

/** An event as it sits in the log: the domain event plus its envelope. */
export type RecordedEvent = CreditEvent & {
  creditId: string;
  version: number;
  actor: string;
  occurredAt: Date;
};

/** A recorded event with its place in the log and its link in the credit's hash chain. */
export type StoredEvent = RecordedEvent & {
  /** bigint as a decimal string: unique, in insertion order, but not the feed's order */
  position: string;
  prevHash: string | null;
  hash: string;
  /** The writing transaction's ID (a decimal string): with position, the global feed's order. */
  txId: string;
};

/** `Omit` for each member of a union, so the type/data pairing of events survives it. */
export type OmitFromEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event about to be appended: the database gives it its position and transaction ID. */
export type NewEvent = OmitFromEach<StoredEvent, 'position' | 'txId'>;
