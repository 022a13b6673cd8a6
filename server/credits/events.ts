/**
 * The credit stream's events. The log stores `type` and `data` (as payload);
 * who did it and when live on the envelope (actor, occurredAt), not in here.
 */
export type CreditFields = {
  projectName: string;
  registry: string;
  vintage: number;
  /** Canonical decimal string, never a float: "10", "0.5", "1234.000001". */
  quantity: string;
  serialNumber: string;
};

export type CreditCreated = { type: 'created'; data: CreditFields };

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

export type CreditEvent = CreditCreated | RetirementRequested | RetirementFailed | CreditRetired;
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
