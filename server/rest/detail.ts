import type { TRPCError } from '@trpc/server';
import type { Request, RequestHandler, Response } from 'express';
import { ZodError } from 'zod';
import type { Refusal } from '../app.js';
import { fieldIssues } from '../trpc/errors.js';

/*
 * Errors as the original service's clients read them: `{"detail": "..."}`
 * and the status. The detail is a sentence of ours: a field's problem naming
 * the field, a rule's refusal, or "Internal server error" — never a stack,
 * SQL, or a library's own message.
 */

export type Detail = { detail: string };

/** The ledger's field names, as this facade spells them. */
const REST_NAMES: Readonly<Record<string, string>> = { projectName: 'project_name', serialNumber: 'serial_number', unitRange: 'unit_range' };
const restNames = (text: string) => text.replace(/\b(projectName|serialNumber|unitRange)\b/g, (name) => REST_NAMES[name] ?? name);

/** One sentence per failing field; a message that already starts with its field's name is not prefixed again. */
function invalidInput(error: ZodError): string {
  return fieldIssues(error)
    .map(({ path, message }) => {
      const field = restNames(path);
      const text = restNames(message);
      const name = field.split('.').at(-1) ?? field;
      return path === '(input)' || text.startsWith(name) || text.startsWith(field) ? text : `${field}: ${text}`;
    })
    .join('; ');
}

export function detailOf(error: TRPCError): string {
  // Internal messages may quote SQL or driver details: the log has them, callers do not.
  if (error.code === 'INTERNAL_SERVER_ERROR') return 'Internal server error';
  if (error.cause instanceof ZodError) return invalidInput(error.cause);
  return error.message;
}

/** A refusal written by the facade itself (bounds, unknown paths): same shape. */
export function sendDetail(res: Response, status: number, detail: string): void {
  res.status(status).json({ detail } satisfies Detail);
}

/** For the body bounds /trpc and the facade share: a refused body, in this shape. */
export const refuseAsDetail: Refusal = (res, status, _code, message) => sendDetail(res, status, message);

/**
 * trpc-to-openapi answers a failed call with tRPC's error shape; this swaps
 * the body for `{detail}` just before it is sent. The adapter reports each
 * failure to `onError` before it writes, which is where `remember` is called.
 */
export function errorsAsDetail() {
  const failures = new WeakMap<Request, TRPCError>();
  const rewrite: RequestHandler = (req, res, next) => {
    const end = res.end.bind(res) as (body?: string) => Response;
    res.end = ((...args: unknown[]) => {
      const error = failures.get(req);
      if (error && res.statusCode >= 400) return end(JSON.stringify({ detail: detailOf(error) } satisfies Detail));
      return (end as (...a: unknown[]) => Response)(...args);
    }) as Response['end'];
    next();
  };
  return { rewrite, remember: (req: Request, error: TRPCError) => failures.set(req, error) };
}
