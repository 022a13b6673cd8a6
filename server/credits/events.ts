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
    /** Key ID that asked for the retirement (the worker is the event's actor). */
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
