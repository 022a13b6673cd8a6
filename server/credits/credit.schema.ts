import { z } from 'zod';
import type { CreditFields } from './events.js';
import { canonicalQuantity } from './quantity.js';

/*
 * Input schemas shared by the API and the domain. Every message starts with
 * the field name, so it reads on its own even where a client drops
 * `issue.path`.
 *
 * This module must stay free of Node built-ins so a browser bundle can import
 * it; that is why the credit-ID pattern lives here rather than in canonical-id.ts.
 */

const CONTROL = /\p{Cc}/u;
const LONE_SURROGATE = /\p{Cs}/u;
// Same set canonical-id.ts refuses (with LONE_SURROGATE): fields that feed the
// ID are checked here so a validated credit can always be given an ID.
const UNASSIGNED = /\p{Cn}/u;

const requiredOr =
  (field: string, expected: string) =>
  (issue: { input?: unknown }): string =>
    issue.input === undefined ? `${field} is required` : `${field} must be ${expected}`;

const describe = (char: string): string => `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

const codePointCount = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** 1-based position in characters (code points), the unit the length limit uses. */
const positionOf = (s: string, utf16Index: number): number => codePointCount(s.slice(0, utf16Index)) + 1;

type TextOptions = {
  max: number;
  /** For fields hashed into the credit ID: refuse code points without a stable canonical form. */
  partOfId?: boolean;
};

/**
 * Trimmed, non-empty, at most `max` characters after trimming. Characters are
 * Unicode code points (what PostgreSQL's varchar(n) counts), so an emoji is
 * one and "e" + combining accent is two. Control characters (category Cc,
 * including tab and newline) are refused anywhere inside the text, and
 * surrounding ones that are whitespace are trimmed first.
 */
function text(field: string, { max, partOfId = false }: TextOptions) {
  return z
    .string({ error: requiredOr(field, 'a string') })
    .trim()
    .check((ctx) => {
      const value = ctx.value;
      if (value === '') {
        ctx.issues.push({ code: 'too_small', origin: 'string', minimum: 1, inclusive: true, input: value, message: `${field} must not be empty` });
        return;
      }
      const length = codePointCount(value);
      if (length > max) {
        ctx.issues.push({
          code: 'too_big',
          origin: 'string',
          maximum: max,
          inclusive: true,
          input: value,
          message: `${field} must be at most ${max} characters, got ${length}`,
        });
      }
      const refuse = (pattern: RegExp, what: string) => {
        const found = pattern.exec(value);
        if (!found) return;
        ctx.issues.push({
          code: 'custom',
          input: value,
          message: `${field} must not contain ${what} (found ${describe(found[0])} at character ${positionOf(value, found.index)})`,
        });
      };
      refuse(CONTROL, 'control characters');
      refuse(LONE_SURROGATE, 'unpaired surrogates');
      if (partOfId) refuse(UNASSIGNED, 'code points unassigned in this Unicode version');
    });
}

export const projectNameSchema = text('projectName', { max: 200, partOfId: true });
export const registrySchema = text('registry', { max: 100, partOfId: true });
export const serialNumberSchema = text('serialNumber', { max: 200, partOfId: true });

const FIRST_VINTAGE = 1990;

/** The upper bound is the current UTC year, read at each parse, so it moves on 1 January without a deploy. */
export const vintageSchema = z
  .number({ error: requiredOr('vintage', 'a year as a number') })
  .int({ error: 'vintage must be a whole year' })
  .check((ctx) => {
    const latest = new Date().getUTCFullYear();
    const message = `vintage must be between ${FIRST_VINTAGE} and ${latest} (the current UTC year)`;
    if (ctx.value < FIRST_VINTAGE) {
      ctx.issues.push({ code: 'too_small', origin: 'number', minimum: FIRST_VINTAGE, inclusive: true, input: ctx.value, message });
    } else if (ctx.value > latest) {
      ctx.issues.push({ code: 'too_big', origin: 'number', maximum: latest, inclusive: true, input: ctx.value, message });
    }
  });

/** Accepts a number or a decimal string; outputs the canonical decimal string (rules in quantity.ts). */
export const quantitySchema = z
  .union([z.string(), z.number()], { error: requiredOr('quantity', 'a decimal string or a number') })
  .transform((value, ctx) => {
    try {
      return canonicalQuantity(value);
    } catch (error) {
      ctx.issues.push({ code: 'custom', input: value, message: error instanceof Error ? error.message : String(error) });
      return z.NEVER;
    }
  });

const strictObject = <Shape extends z.ZodRawShape>(what: string, shape: Shape) =>
  z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `${what} has unknown field(s): ${issue.keys.join(', ')}; allowed: ${Object.keys(shape).join(', ')}`
        : `${what} must be an object`,
  });

export const createCreditInput = strictObject('credit', {
  projectName: projectNameSchema,
  registry: registrySchema,
  vintage: vintageSchema,
  quantity: quantitySchema,
  serialNumber: serialNumberSchema,
});

type AssignableToCreditFields<T extends CreditFields> = T;
/** Parsed input is passed to the domain as-is; the constraint fails the build if the two drift apart. */
export type CreateCreditInput = AssignableToCreditFields<z.output<typeof createCreditInput>>;

export const CREDIT_ID_PATTERN = /^cc_[0-9a-f]{64}$/;

export const creditIdSchema = z
  .string({ error: requiredOr('id', 'a string') })
  .regex(CREDIT_ID_PATTERN, { error: 'id must be "cc_" followed by 64 lowercase hexadecimal digits' });

export const beneficiarySchema = text('beneficiary', { max: 200 });

/**
 * Optional. Missing, null, and empty-after-trim all mean "no reason" and come
 * out as null, the one spelling the domain uses, so a retry that sends "" is
 * the same request as one that omits the field.
 */
export const retirementReasonSchema = z
  .string({ error: requiredOr('reason', 'a string or null') })
  .nullish()
  .transform((reason) => (reason == null || reason.trim() === '' ? null : reason))
  .pipe(text('reason', { max: 1000 }).nullable());

export const retireCreditInput = strictObject('retirement', {
  id: creditIdSchema,
  beneficiary: beneficiarySchema,
  reason: retirementReasonSchema,
});

export type RetireCreditInput = z.output<typeof retireCreditInput>;
