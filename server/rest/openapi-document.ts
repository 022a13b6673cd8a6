import { generateOpenApiDocument, type OpenAPIObject, type OpenApiRouter } from 'trpc-to-openapi';

/*
 * The OpenAPI 3.1 document of the REST facade, generated from its
 * procedures' meta and zod schemas. Two things the generator cannot know are
 * filled in after it: errors are `{detail}` (not tRPC's shape), and a
 * retirement may answer 202 with the status instead of 200 with the event.
 */

const API_KEY_SCHEME = 'ApiKey';

const errorSchema = {
  type: 'object' as const,
  properties: { detail: { type: 'string' as const, description: 'What went wrong, naming the field when one is invalid' } },
  required: ['detail'],
};

/** What a detail reads like, by status: shown under each error response in /docs. */
const EXAMPLE_DETAILS: Readonly<Record<string, string>> = {
  '400': 'vintage must be between 1990 and 2026 (the current UTC year)',
  '401': 'missing API key: send Authorization: Bearer <key>',
  '403': "role 'auditor' may not create; needs one of: issuer, admin",
  '404': 'credit cc_fb97420f… not found',
  '409': 'credit was already retired at 2026-11-26T08:00:34.120Z; it cannot be retired',
  '413': 'request body larger than 1048576 bytes',
  '415': 'request body must be JSON: send Content-Type: application/json',
  '429': 'rate limit reached: too many calls; retry in 1 s',
  '500': 'Internal server error',
};

const retryAfter = { description: 'Seconds to wait before trying again', schema: { type: 'string' } };

type Responses = Record<string, { description?: string; headers?: Record<string, unknown>; content?: Record<string, { schema: unknown }> }>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ 'application/json': { schema } });
const errorJson = (status: string) => ({ 'application/json': { schema: ref('Error'), example: { detail: EXAMPLE_DETAILS[status] ?? 'What went wrong' } } });

export function restDocument(router: OpenApiRouter, { retireWaitMs }: { retireWaitMs: number }): OpenAPIObject {
  const doc = generateOpenApiDocument(router, {
    title: 'Carbon Credit Ledger — REST API',
    version: '1.0.0',
    description:
      'The paths and JSON shapes of the service the ledger replaced, over the ledger itself. Every call needs an API key: ' +
      'press Authorize and paste it (it is sent as `Authorization: Bearer <key>`). Errors are `{"detail": "..."}`. ' +
      'The full API, with bulk import, the event feed and key management, is tRPC at /trpc (see the README).',
    baseUrl: '/',
    securitySchemes: {
      [API_KEY_SCHEME]: { type: 'http', scheme: 'bearer', description: 'A ledger API key (`ccl_…`), sent as `Authorization: Bearer <key>`' },
    },
    tags: ['records'],
  });

  // The generator's `error.*` schemas describe tRPC's error shape, which the facade never sends: `Error` replaces them.
  const schemas = Object.fromEntries(Object.entries(doc.components?.schemas ?? {}).filter(([name]) => !name.startsWith('error.')));
  doc.components = { ...doc.components, schemas: { ...schemas, Error: errorSchema } };
  for (const item of Object.values(doc.paths ?? {})) {
    for (const operation of [item.get, item.post]) {
      if (!operation) continue;
      const responses = operation.responses as Responses;
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) < 400) continue;
        responses[status] = {
          description: response.description ?? 'Error',
          ...(status === '429' ? { headers: { 'Retry-After': retryAfter } } : {}),
          ...(status === '401' ? { headers: { 'WWW-Authenticate': { description: 'Bearer', schema: { type: 'string' } } } } : {}),
          content: errorJson(status),
        };
      }
      responses['500'] = { description: 'A fault of ours; the detail is always "Internal server error"', content: errorJson('500') };
    }
  }

  const retire = doc.paths?.['/api/records/{id}/retire']?.post;
  if (retire) {
    const responses = retire.responses as Responses;
    responses['200'] = { description: `Retired within ${retireWaitMs} ms: the \`retired\` event`, content: json(ref('RecordEvent')) };
    responses['202'] = {
      description: 'Accepted and recorded; a worker will apply it. The body is the retirement status, as GET Location answers it',
      headers: {
        Location: { description: 'Where to poll: /api/records/{id}/retirement', schema: { type: 'string' } },
        'Retry-After': { description: 'While pending: seconds to wait before polling', schema: { type: 'string' } },
      },
      content: json(ref('RetirementStatus')),
    };
  }
  return doc;
}
