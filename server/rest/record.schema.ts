import { z } from 'zod';
import {
  beneficiarySchema,
  creditIdSchema,
  projectNameSchema,
  quantitySchema,
  registrySchema,
  retirementReasonSchema,
  serialNumberSchema,
  unitRangeSchema,
  vintageSchema,
} from '../credits/credit.schema.js';
import { listCreditsInput } from '../credits/list.schema.js';

/*
 * What the REST facade takes and answers, in the original service's
 * snake_case. Inputs reuse the shared field schemas, so a field is checked
 * (and normalised) here exactly as on /trpc; the handlers then hand the
 * domain its own input schema, which adds the checks across fields.
 *
 * Numbers always go through a pipe. trpc-to-openapi switches on zod's
 * coercion (`_def.coerce = true`) in every number schema it can reach in an
 * input object, on every request and for bodies too, because query strings
 * carry numbers as text. Reaching a shared schema would make /trpc take
 * "2021", and null as 0, from then on. It never looks inside a pipe: bodies
 * take JSON numbers only, as /trpc does, and query parameters are coerced by
 * a number schema of their own in front of the shared one.
 */

/** A JSON number (a whole one) in a body, then checked by `schema`. */
const bodyInteger = <T extends z.ZodType<unknown, number>>(field: string, schema: T) =>
  z.int({ error: (issue) => (issue.input === undefined ? `${field} is required` : `${field} must be a whole number`) }).pipe(schema);
/** A whole number in a query string (text), then checked by `schema`. */
const queryInteger = <T extends z.ZodType<unknown, number>>(field: string, schema: T) =>
  z.coerce.number<string>({ error: `${field} must be a whole number` }).pipe(z.int({ error: `${field} must be a whole number` })).pipe(schema);

/** A body with fields this facade does not know is refused, naming them, rather than half-read. */
const strictBody = <Shape extends z.ZodRawShape>(shape: Shape) =>
  z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `body has unknown field(s): ${issue.keys.join(', ')}; allowed: ${Object.keys(shape).join(', ')}`
        : 'body must be a JSON object',
  });

const EXAMPLE_ID = 'cc_fb97420f9a0c05d0f2ab03c6246a35a29ff8f58ee380e46d641e04bd207bc00b';

const recordId = creditIdSchema.meta({
  description: 'The record\'s ID: "cc_" and 64 hex digits, derived from its fields (the same block always has the same ID)',
  example: EXAMPLE_ID,
});

export const recordIdInput = z.object({ id: recordId });

export const createRecordInput = strictBody({
  project_name: projectNameSchema.meta({ description: 'Project name, up to 200 characters', example: 'Kasigau Corridor REDD+' }),
  registry: registrySchema.meta({ description: 'Registry, up to 100 characters', example: 'Verra' }),
  vintage: bodyInteger('vintage', vintageSchema).meta({ description: 'Vintage year, from 1990 to the current UTC year', example: 2021 }),
  quantity: quantitySchema.meta({
    description: 'tCO2e: a positive decimal, as a number or a string, at most 6 decimal places and 1e12',
    example: '100',
  }),
  serial_number: serialNumberSchema.meta({ description: 'The registry serial number, up to 200 characters', example: 'VCS-1234-2021-001' }),
  unit_range: z
    .strictObject({ first: bodyInteger('unit_range.first', z.int()), last: bodyInteger('unit_range.last', z.int()) })
    .pipe(unitRangeSchema)
    .optional()
    .meta({ description: "The block's units, both ends included, for a serial that does not spell them" }),
});

export const listRecordsInput = z.object({
  cursor: listCreditsInput.shape.cursor.meta({ description: 'Where the next page starts: the `cursor` of the previous answer\'s Link header' }),
  limit: queryInteger('limit', listCreditsInput.shape.limit.unwrap()).optional().meta({ description: 'Records per page, 1 to 500 (default 50)' }),
  registry: registrySchema.optional().meta({ description: 'Only this registry (case-insensitive)' }),
  vintage: queryInteger('vintage', vintageSchema).optional().meta({ description: 'Only this vintage year' }),
  status: listCreditsInput.shape.status.meta({ description: 'Only records in this status' }),
  project_name: projectNameSchema.optional().meta({ description: 'Only projects whose name contains this (case-insensitive)' }),
});

export const retireRecordInput = strictBody({
  id: recordId,
  beneficiary: beneficiarySchema
    .optional()
    .meta({ description: 'On whose behalf the credit is retired, up to 200 characters; without it, the calling API key\'s name' }),
  reason: retirementReasonSchema.optional().meta({ description: 'Why, up to 1,000 characters' }),
});

const instant = z.iso.datetime();

export const recordEvent = z
  .object({
    event_type: z.enum(['created', 'split_from', 'split', 'retirement_requested', 'retirement_failed', 'retired', 'cancelled']),
    payload: z.record(z.string(), z.unknown()).meta({ description: 'The event\'s data exactly as the ledger stores and hashes it' }),
    created_at: instant,
    version: z.int().meta({ description: 'Its place in the record\'s own history: 1, 2, 3…' }),
    actor: z.string().meta({ description: 'The API key (or system actor) that caused it' }),
  })
  .meta({ id: 'RecordEvent' });

const recordFields = {
  id: z.string(),
  project_name: z.string(),
  registry: z.string(),
  vintage: z.int(),
  quantity: z.string().meta({ description: 'tCO2e as a canonical decimal string ("100", "0.5")', example: '100' }),
  serial_number: z.string(),
  created_at: instant,
  status: z.enum(['active', 'retired', 'cancelled']),
  retired_at: instant.nullable(),
  version: z.int().meta({ description: 'How many events the record has' }),
  unit_range: z.object({ first: z.int(), last: z.int() }).nullable(),
  parent_id: z.string().nullable().meta({ description: 'The record this one was split off, if any' }),
};

export const record = z.object({ ...recordFields, events: z.array(recordEvent).meta({ description: 'Its events, oldest first' }) }).meta({ id: 'Record' });

export const recordPage = z.array(record).meta({ description: 'One page, oldest first; the Link header (rel="next") names the next one' });

export const retirementStatus = z
  .object({
    status: z.enum(['not_requested', 'queued', 'processing', 'retired', 'failed', 'cancelled']),
    attempts: z.int(),
    failed_reason: z.string().optional().meta({ description: "While pending: the last attempt's failure; once failed: why the request ended" }),
    retired_at: instant.optional(),
    retirement: z
      .object({ beneficiary: z.string(), reason: z.string().nullable(), requested_by: z.string(), requested_at: instant, retired_at: instant })
      .optional(),
    cancellation: z.object({ cancelled_at: instant, reason: z.string() }).optional(),
  })
  .meta({ id: 'RetirementStatus' });

/** 200 with the `retired` event when the worker finished within the wait; otherwise 202 with the status. */
export const retireAnswer = z.union([recordEvent, retirementStatus]);

export type RecordEventBody = z.infer<typeof recordEvent>;
export type RecordBody = z.infer<typeof record>;
export type RetirementStatusBody = z.infer<typeof retirementStatus>;

/** Response headers, for the document. */
export const pageHeaders = z.object({
  link: z.string().optional().meta({ description: 'When there is a next page: `</api/records/?cursor=…>; rel="next"`, filters kept' }),
});
export const pendingHeaders = z.object({
  'retry-after': z.string().optional().meta({ description: 'While the retirement is pending: seconds to wait before asking again' }),
});
