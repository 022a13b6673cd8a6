import { TRPCError } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import type { z } from 'zod';
import { createCredit } from '../credits/create.handler.js';
import { createCreditInput } from '../credits/credit.schema.js';
import { readStream, readStreams } from '../credits/event-store.js';
import { listCredits } from '../credits/list.handler.js';
import { listCreditsInput } from '../credits/list.schema.js';
import { eventView, getCredit } from '../credits/read.handlers.js';
import { requestRetirement, retirementStatus } from '../credits/retire.handler.js';
import { procedureFor, router } from '../trpc/init.js';
import { defaultBeneficiary } from './default-beneficiary.js';
import {
  createRecordInput,
  listRecordsInput,
  pageHeaders,
  pendingHeaders,
  record,
  recordIdInput,
  recordPage,
  retireAnswer,
  retireRecordInput,
  retirementStatus as retirementStatusOutput,
} from './record.schema.js';
import { recordBody, recordEventBody, retirementStatusBody } from './record-view.js';
import { replyOf } from './reply.js';
import { awaitRetiredEvent } from './retirement-wait.js';

/*
 * The original service's paths over the ledger's own handlers: each
 * procedure renames fields, calls what the tRPC procedure of the same job
 * calls (same role, rate limit, request budget and rules), and renames the
 * answer back. Nothing here decides anything about a credit.
 */

/** The domain's own input schema on the renamed fields: the checks across fields live there, once. */
function domainInput<T extends z.ZodType>(schema: T, value: z.input<T>): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new TRPCError({ code: 'BAD_REQUEST', message: 'invalid input', cause: parsed.error });
  return parsed.data;
}

/** Where a retirement's status is read: the 202's Location. */
const retirementPath = (id: string) => `/api/records/${id}/retirement`;

/** How long a poller should wait before asking again about a pending retirement. */
const RETRY_AFTER_SECONDS = '1';

const TAGS = ['records'];

/** A procedure's REST path and document entry, checked against trpc-to-openapi's own type. */
const openApi = (openapi: NonNullable<OpenApiMeta['openapi']>) => ({ openapi });

export function createRecordsRouter({ retireWaitMs }: { retireWaitMs: number }) {
  return router({
    create: procedureFor('create')
      .meta(
        openApi({
          method: 'POST',
          path: '/api/records/',
          operationId: 'createRecord',
          tags: TAGS,
          summary: 'Create a record (idempotent)',
          description:
            'Creates the credit, or answers the existing one when the same fields were sent before: the ID is derived from the fields, ' +
            'so a repeat never makes a duplicate. Needs an issuer or admin key.',
          successDescription: 'The record, created now or before',
          errorResponses: {
            400: 'A field is missing or invalid (the message names it)',
            401: 'No API key, or an unknown or revoked one',
            403: 'The key may not create records',
            409: 'The registry serial (or its units) already belongs to another record',
            413: 'The body is too large',
            415: 'The body is not JSON',
            429: 'Rate limit reached (see Retry-After)',
          },
        }),
      )
      .input(createRecordInput)
      .output(record)
      .mutation(async ({ ctx, input }) => {
        ctx.budget.take('creditsCreated', 1, 'POST /api/records/');
        const fields = domainInput(createCreditInput, {
          projectName: input.project_name,
          registry: input.registry,
          vintage: input.vintage,
          quantity: input.quantity,
          serialNumber: input.serial_number,
          ...(input.unit_range ? { unitRange: input.unit_range } : {}),
        });
        const { credit } = await createCredit(ctx.em, fields, ctx.actor.keyId, new Date());
        return recordBody(credit, (await readStream(ctx.em, credit.id)).map(eventView));
      }),

    list: procedureFor('read')
      .meta(
        openApi({
          method: 'GET',
          path: '/api/records/',
          operationId: 'listRecords',
          tags: TAGS,
          summary: 'List records, a page at a time',
          description:
            'Oldest first, keyset-paged: when there is more, the Link header names the next page (rel="next"); follow it until there is none. ' +
            'Records created while you page never make you see one twice or skip one. Needs an auditor or admin key.',
          successDescription: 'One page of records',
          responseHeaders: pageHeaders,
          errorResponses: {
            400: 'A filter or the cursor is invalid',
            401: 'No API key, or an unknown or revoked one',
            403: 'The key may not read records',
            429: 'Rate limit reached (see Retry-After)',
          },
        }),
      )
      .input(listRecordsInput)
      .output(recordPage)
      .query(async ({ ctx, input }) => {
        const query = domainInput(listCreditsInput, {
          ...(input.cursor !== undefined ? { cursor: input.cursor } : {}),
          ...(input.limit !== undefined ? { limit: input.limit } : {}),
          ...(input.registry !== undefined ? { registry: input.registry } : {}),
          ...(input.vintage !== undefined ? { vintage: input.vintage } : {}),
          ...(input.status !== undefined ? { status: input.status } : {}),
          ...(input.project_name !== undefined ? { projectName: input.project_name } : {}),
        });
        ctx.budget.take('rowsRead', query.limit, `GET /api/records/ with limit ${query.limit}`);
        const page = await listCredits(ctx.em, query);
        const streams = await readStreams(
          ctx.em,
          page.items.map((c) => c.id),
        );
        if (page.nextCursor) replyOf(ctx).headers.link = `<${nextPageUrl(input, page.nextCursor)}>; rel="next"`;
        return page.items.map((c) => recordBody(c, (streams.get(c.id) ?? []).map(eventView)));
      }),

    get: procedureFor('read')
      .meta(
        openApi({
          method: 'GET',
          path: '/api/records/{id}',
          operationId: 'getRecord',
          tags: TAGS,
          summary: 'Get a record and its events',
          description: 'Needs an auditor or admin key.',
          successDescription: 'The record, with its events oldest first',
          errorResponses: {
            400: 'The ID is not a record ID',
            401: 'No API key, or an unknown or revoked one',
            403: 'The key may not read records',
            404: 'No such record',
            429: 'Rate limit reached (see Retry-After)',
          },
        }),
      )
      .input(recordIdInput)
      .output(record)
      .query(async ({ ctx, input }) => {
        const { credit, events } = await getCredit(ctx.em, input.id);
        return recordBody(credit, events);
      }),

    retire: procedureFor('retire')
      .meta(
        openApi({
          method: 'POST',
          path: '/api/records/{id}/retire',
          operationId: 'retireRecord',
          tags: TAGS,
          summary: 'Retire a record',
          description:
            'Retirement is asynchronous: the request is recorded durably and a worker applies it. ' +
            `When the worker finishes within a short wait (REST_RETIRE_WAIT_MS, now ${retireWaitMs} ms) the answer is 200 with the \`retired\` event; ` +
            'otherwise 202 Accepted with the retirement status and a Location header to poll (GET /api/records/{id}/retirement). ' +
            'The body is optional: without a beneficiary, the calling API key\'s name is the beneficiary. ' +
            'Asking again while the same request is pending is safe. Needs a retirer or admin key.',
          successDescription: 'Retired within the wait: the `retired` event',
          errorResponses: {
            400: 'The ID or a field is invalid',
            401: 'No API key, or an unknown or revoked one',
            403: 'The key may not retire records',
            404: 'No such record',
            409: 'Already retired or cancelled, or a different retirement is pending',
            413: 'The body is too large',
            415: 'The body is not JSON',
            429: 'Rate limit reached, or the record is busy under heavy contention (see Retry-After; retrying is safe)',
          },
        }),
      )
      .input(retireRecordInput)
      .output(retireAnswer)
      .mutation(async ({ ctx, input }) => {
        const beneficiary = input.beneficiary ?? (await defaultBeneficiary(ctx.em, ctx.actor));
        const asked = await requestRetirement(ctx, { id: input.id, beneficiary, reason: input.reason ?? null }, ctx.actor.keyId, new Date());
        const retired = retireWaitMs > 0 ? await awaitRetiredEvent(ctx.em, asked.creditId, retireWaitMs) : null;
        if (retired) return recordEventBody(eventView(retired));
        const status = await retirementStatus(ctx, asked.creditId);
        const reply = replyOf(ctx);
        reply.status = 202;
        reply.headers.location = retirementPath(asked.creditId);
        if (status.status === 'queued' || status.status === 'processing') reply.headers['retry-after'] = RETRY_AFTER_SECONDS;
        return retirementStatusBody(status);
      }),

    retirement: procedureFor('retirementStatus')
      .meta(
        openApi({
          method: 'GET',
          path: '/api/records/{id}/retirement',
          operationId: 'getRetirement',
          tags: TAGS,
          summary: "A record's retirement status",
          description:
            'Poll this after a 202 until the status is `retired` or `failed`; while the request is pending (`queued`, `processing`) ' +
            'the Retry-After header says when to ask again. Needs a retirer, auditor or admin key.',
          successDescription: 'The retirement status',
          responseHeaders: pendingHeaders,
          errorResponses: {
            400: 'The ID is not a record ID',
            401: 'No API key, or an unknown or revoked one',
            403: 'The key may not read retirement status',
            404: 'No such record',
            429: 'Rate limit reached (see Retry-After)',
          },
        }),
      )
      .input(recordIdInput)
      .output(retirementStatusOutput)
      .query(async ({ ctx, input }) => {
        const status = await retirementStatus(ctx, input.id);
        if (status.status === 'queued' || status.status === 'processing') replyOf(ctx).headers['retry-after'] = RETRY_AFTER_SECONDS;
        return retirementStatusBody(status);
      }),
  });
}

/** The same query with the next cursor: filters and page size carry over. */
function nextPageUrl(input: z.output<typeof listRecordsInput>, cursor: string): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...input, cursor })) {
    if (value !== undefined) query.set(name, String(value));
  }
  return `/api/records/?${query.toString()}`;
}
