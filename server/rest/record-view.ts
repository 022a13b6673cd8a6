import type { EventView } from '../credits/read.handlers.js';
import type { CreditView } from '../credits/projection.js';
import type { RetirementStatus } from '../credits/retire.handler.js';
import type { RecordBody, RecordEventBody, RetirementStatusBody } from './record.schema.js';

/*
 * The ledger's views in the original service's names: a credit is a
 * "record", an event's type and data are `event_type` and `payload`, its time
 * `created_at`. The payload is left as the log stores it (and hashes it), so
 * what a REST client sees can be checked against an export.
 */

export const recordEventBody = (e: Pick<EventView, 'type' | 'data' | 'occurredAt' | 'version' | 'actor'>): RecordEventBody => ({
  event_type: e.type,
  payload: e.data,
  created_at: e.occurredAt,
  version: e.version,
  actor: e.actor,
});

export const recordBody = (credit: CreditView, events: readonly EventView[]): RecordBody => ({
  id: credit.id,
  project_name: credit.projectName,
  registry: credit.registry,
  vintage: credit.vintage,
  quantity: credit.quantity,
  serial_number: credit.serialNumber,
  created_at: credit.createdAt,
  status: credit.status,
  retired_at: credit.retiredAt,
  version: credit.version,
  unit_range: credit.unitRange,
  parent_id: credit.parentId ?? null,
  events: events.map(recordEventBody),
});

export const retirementStatusBody = (s: RetirementStatus): RetirementStatusBody => ({
  status: s.status,
  attempts: s.attempts,
  ...(s.failedReason !== undefined ? { failed_reason: s.failedReason } : {}),
  ...(s.retiredAt !== undefined ? { retired_at: s.retiredAt } : {}),
  ...(s.retirement
    ? {
        retirement: {
          beneficiary: s.retirement.beneficiary,
          reason: s.retirement.reason,
          requested_by: s.retirement.requestedBy,
          requested_at: s.retirement.requestedAt,
          retired_at: s.retirement.retiredAt,
        },
      }
    : {}),
  ...(s.cancellation ? { cancellation: { cancelled_at: s.cancellation.cancelledAt, reason: s.cancellation.reason } } : {}),
});
