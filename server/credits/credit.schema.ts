import { z } from 'zod';
import type { CreditFields } from './events.js';
import { parseSerial, unitCount, type UnitRange } from './serial-ranges.js';
import { canonicalQuantity } from './quantity.js';

/*
 * Input schemas shared by the API and the domain. Every message starts with
 * the field name, so it reads on its own even where a client drops
 * `issue.path`.
 *
 * Text fields come in three kinds, and what a schema outputs is what the
 * domain hashes and the `created` event stores:
 *
 * - Identifiers (registry, serialNumber) name a registry block, so two
 *   spellings that look alike on screen must be one identifier. They are
 *   trimmed and NFKC-normalised, and must then consist only of ASCII letters,
 *   digits, space and `- . _ / : +` (IDENTIFIER_SEPARATORS). Full-width and
 *   other compatibility forms therefore become their ASCII letters ("Ｓ-１" is
 *   "S-1", "ﬁ" is "fi", "Ⅳ" is "IV", "𝐒" is "S"); everything else is
 *   refused, naming the character and its position: invisible and format
 *   characters (U+200B, U+200D, U+2060, U+FEFF inside the text, soft hyphen,
 *   the bidirectional controls U+202A-U+202E and U+2066-U+2069), letters of
 *   other scripts, and Unicode hyphens and dashes (U+2010-U+2015, U+2212),
 *   which are refused rather than guessed to be "-".
 * - Project names are prose in any script, trimmed and NFKC-normalised;
 *   format characters (category Cf, which includes every bidirectional
 *   control and zero-width character), other default-ignorable (invisible)
 *   code points such as variation selectors and Hangul fillers, U+2800
 *   BRAILLE PATTERN BLANK and the line and paragraph separators U+2028/U+2029
 *   are refused. So are emoji ZWJ sequences, the price of refusing ZWJ.
 * - Beneficiary and reason are prose shown back as sent: refused like project
 *   names, but not normalised.
 *
 * Every kind refuses control characters (Cc) and unpaired surrogates; the
 * fields hashed into the credit ID also refuse code points unassigned in this
 * Unicode version, the set canonical-id.ts refuses, so a validated credit can
 * always be given an ID. Positions in messages count code points of the
 * trimmed text as sent, before normalisation.
 *
 * This module must stay free of Node built-ins so a browser bundle can import
 * it; that is why the credit-ID pattern lives here rather than in canonical-id.ts.
 */

const CONTROL = /\p{Cc}/u;
const LONE_SURROGATE = /\p{Cs}/u;
const UNASSIGNED = /\p{Cn}/u;
/** Characters that change or hide how text reads without showing themselves (see the module comment). */
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}\u2800]/u;
/** Unicode's Dash property (U+2010-U+2015, U+2212, U+FE58, ...), named in the message when refused. */
const DASH = /\p{Dash}/u;

/** What an identifier may hold after NFKC, besides ASCII letters and digits. */
export const IDENTIFIER_SEPARATORS = [' ', '-', '.', '_', '/', ':', '+'] as const;
const IDENTIFIER_CHAR = /^[A-Za-z0-9 ._/:+-]$/;
const IDENTIFIER_ALLOWED = `ASCII letters, digits, space and ${IDENTIFIER_SEPARATORS.slice(1).join(' ')}`;

const requiredOr =
  (field: string, expected: string) =>
  (issue: { input?: unknown }): string =>
    issue.input === undefined ? `${field} is required` : `${field} must be ${expected}`;

const hex = (codePoint: number): string => `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;

/** Names of the characters a look-alike is most often built from; ICU's name data is not available in a browser. */
const CHARACTER_NAMES: Readonly<Record<number, string>> = {
  0x00ad: 'SOFT HYPHEN',
  0x034f: 'COMBINING GRAPHEME JOINER',
  0x061c: 'ARABIC LETTER MARK',
  0x115f: 'HANGUL CHOSEONG FILLER',
  0x1160: 'HANGUL JUNGSEONG FILLER',
  0x1680: 'OGHAM SPACE MARK',
  0x180e: 'MONGOLIAN VOWEL SEPARATOR',
  0x200b: 'ZERO WIDTH SPACE',
  0x200c: 'ZERO WIDTH NON-JOINER',
  0x200d: 'ZERO WIDTH JOINER',
  0x200e: 'LEFT-TO-RIGHT MARK',
  0x200f: 'RIGHT-TO-LEFT MARK',
  0x2010: 'HYPHEN',
  0x2011: 'NON-BREAKING HYPHEN',
  0x2012: 'FIGURE DASH',
  0x2013: 'EN DASH',
  0x2014: 'EM DASH',
  0x2015: 'HORIZONTAL BAR',
  0x2028: 'LINE SEPARATOR',
  0x2029: 'PARAGRAPH SEPARATOR',
  0x202a: 'LEFT-TO-RIGHT EMBEDDING',
  0x202b: 'RIGHT-TO-LEFT EMBEDDING',
  0x202c: 'POP DIRECTIONAL FORMATTING',
  0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE',
  0x2043: 'HYPHEN BULLET',
  0x2060: 'WORD JOINER',
  0x2061: 'FUNCTION APPLICATION',
  0x2062: 'INVISIBLE TIMES',
  0x2063: 'INVISIBLE SEPARATOR',
  0x2064: 'INVISIBLE PLUS',
  0x2066: 'LEFT-TO-RIGHT ISOLATE',
  0x2067: 'RIGHT-TO-LEFT ISOLATE',
  0x2068: 'FIRST STRONG ISOLATE',
  0x2069: 'POP DIRECTIONAL ISOLATE',
  0x207b: 'SUPERSCRIPT MINUS',
  0x208b: 'SUBSCRIPT MINUS',
  0x2212: 'MINUS SIGN',
  0x2800: 'BRAILLE PATTERN BLANK',
  0x2e3a: 'TWO-EM DASH',
  0x2e3b: 'THREE-EM DASH',
  0x3164: 'HANGUL FILLER',
  0xfe58: 'SMALL EM DASH',
  0xfeff: 'ZERO WIDTH NO-BREAK SPACE',
  0xffa0: 'HALFWIDTH HANGUL FILLER',
};

const nameOf = (codePoint: number): string | undefined => {
  const named = CHARACTER_NAMES[codePoint];
  if (named !== undefined) return named;
  if (codePoint >= 0xfe00 && codePoint <= 0xfe0f) return `VARIATION SELECTOR-${codePoint - 0xfe00 + 1}`;
  if (codePoint >= 0xe0100 && codePoint <= 0xe01ef) return `VARIATION SELECTOR-${codePoint - 0xe0100 + 17}`;
  return undefined;
};

const VISIBLE = /^[\p{L}\p{N}\p{P}\p{S}]$/u;

/**
 * "U+200B (ZERO WIDTH SPACE)" for a character we know by name, `U+00E9 "é"`
 * for another visible one, plain "U+0000" otherwise: an invisible or
 * reordering character is never echoed into the message itself.
 */
const describe = (char: string): string => {
  const codePoint = char.codePointAt(0) ?? 0;
  const name = nameOf(codePoint);
  if (name !== undefined) return `${hex(codePoint)} (${name})`;
  return VISIBLE.test(char) && !INVISIBLE.test(char) ? `${hex(codePoint)} "${char}"` : hex(codePoint);
};

const codePointCount = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** 1-based position in characters (code points), the unit the length limit uses. */
const positionOf = (s: string, utf16Index: number): number => codePointCount(s.slice(0, utf16Index)) + 1;

/** Whether `char`, after NFKC, is only identifier characters (so "Ｓ" and "ﬁ" are, "é" and "\u2010" are not). */
const isIdentifierChar = (char: string): boolean => [...char.normalize('NFKC')].every((c) => IDENTIFIER_CHAR.test(c));

type TextKind = 'identifier' | 'name' | 'prose';

type TextOptions = {
  max: number;
  /** See the module comment. */
  kind: TextKind;
  /** For fields hashed into the credit ID: refuse code points without a stable canonical form. */
  partOfId?: boolean;
};

/**
 * Trimmed, non-empty, at most `max` characters after trimming and
 * normalisation. Characters are Unicode code points (what PostgreSQL's
 * varchar(n) counts), so an emoji is one and "e" + combining accent is two.
 * Control characters (category Cc, including tab and newline) are refused
 * anywhere inside the text, and surrounding ones that are whitespace are
 * trimmed first; what else is refused, and how the text is normalised,
 * depends on `kind` (module comment). A text refused for a character is not
 * also measured.
 */
function text(field: string, { max, kind, partOfId = false }: TextOptions) {
  return z
    .string({ error: requiredOr(field, 'a string') })
    .trim()
    .check((ctx) => {
      const value = ctx.value;
      const issuesBefore = ctx.issues.length;
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
      if (ctx.issues.length > issuesBefore) return;

      if (kind !== 'identifier') {
        refuse(INVISIBLE, 'invisible, format or bidirectional control characters');
        return;
      }
      let position = 0;
      for (const char of value) {
        position++;
        if (isIdentifierChar(char)) continue;
        const dash = DASH.test(char) ? ': Unicode hyphens and dashes are not read as "-", type the ASCII hyphen-minus' : '';
        ctx.issues.push({
          code: 'custom',
          input: value,
          message: `${field} must not contain ${describe(char)} at character ${position}${dash}; allowed: ${IDENTIFIER_ALLOWED}`,
        });
        return;
      }
    })
    .overwrite((value) => (kind === 'prose' ? value : value.normalize('NFKC').trim()))
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
    });
}

export const projectNameSchema = text('projectName', { max: 200, kind: 'name', partOfId: true });
export const registrySchema = text('registry', { max: 100, kind: 'identifier', partOfId: true });
export const serialNumberSchema = text('serialNumber', { max: 200, kind: 'identifier', partOfId: true });

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

const unitNumber = (field: string) =>
  z
    .number({ error: requiredOr(field, 'a whole number') })
    .int({ error: `${field} must be a whole number` })
    .min(0, { error: `${field} must be 0 or more` })
    .max(Number.MAX_SAFE_INTEGER, { error: `${field} must be at most ${Number.MAX_SAFE_INTEGER}` });

/** A block's units, both ends included: 1 unit is 1 tCO2e. */
export const unitRangeSchema = z
  .strictObject(
    { first: unitNumber('unitRange.first'), last: unitNumber('unitRange.last') },
    { error: (issue) => (issue.code === 'unrecognized_keys' ? `unitRange has unknown field(s): ${issue.keys.join(', ')}; allowed: first, last` : 'unitRange must be an object {first, last}') },
  )
  .refine((r) => r.last >= r.first, { error: 'unitRange.last must not be below unitRange.first' });

/**
 * How the serials of parts of amount-only credits are spelled (decider.ts's
 * carvedPart): reserved, so no credit created can hold the serial a split
 * will give its part. Case-insensitive, as serials are compared.
 */
const DERIVED_SERIAL = /\/split-/i;

const describeUnits = (r: UnitRange) => `${r.first}…${r.last} (${unitCount(r)} units)`;

/**
 * A credit as issued. With units (given as unitRange, or spelled by a Verra
 * or Gold Standard serial) its quantity is their count. Units spelled by the
 * serial are not repeated in the output: the serial says them already.
 */
export const createCreditInput = strictObject('credit', {
  projectName: projectNameSchema,
  registry: registrySchema,
  vintage: vintageSchema,
  quantity: quantitySchema,
  serialNumber: serialNumberSchema,
  unitRange: unitRangeSchema.optional(),
})
  .superRefine((c, ctx) => {
    if (DERIVED_SERIAL.test(c.serialNumber)) {
      ctx.addIssue({
        code: 'custom',
        path: ['serialNumber'],
        message: `serialNumber must not contain "/split-" (in any case): the ledger names the parts split off amount-only credits "<serial>/split-<12 hex digits>", and those serials are its own`,
      });
      return;
    }
    const spelled = parseSerial(c.serialNumber)?.units;
    if (c.unitRange && spelled && (c.unitRange.first !== spelled.first || c.unitRange.last !== spelled.last)) {
      ctx.addIssue({
        code: 'custom',
        path: ['unitRange'],
        message: `unitRange ${describeUnits(c.unitRange)} does not match the units serialNumber spells, ${describeUnits(spelled)}`,
      });
      return;
    }
    const units = c.unitRange ?? spelled;
    if (units && c.quantity !== String(unitCount(units))) {
      ctx.addIssue({
        code: 'custom',
        path: ['quantity'],
        message: `quantity ${c.quantity} does not match ${c.unitRange ? 'unitRange' : 'the range serialNumber spells'}, ${describeUnits(units)}: with units, quantity is their count`,
      });
    }
  })
  .transform(({ unitRange, ...fields }) => (unitRange && !parseSerial(fields.serialNumber) ? { ...fields, unitRange } : fields));

type AssignableToCreditFields<T extends CreditFields> = T;
/** Parsed input is passed to the domain as-is; the constraint fails the build if the two drift apart. */
export type CreateCreditInput = AssignableToCreditFields<z.output<typeof createCreditInput>>;

export const CREDIT_ID_PATTERN = /^cc_[0-9a-f]{64}$/;

export const creditIdSchema = z
  .string({ error: requiredOr('id', 'a string') })
  .regex(CREDIT_ID_PATTERN, { error: 'id must be "cc_" followed by 64 lowercase hexadecimal digits' });

export const beneficiarySchema = text('beneficiary', { max: 200, kind: 'prose' });

/**
 * Optional. Missing, null, and empty-after-trim all mean "no reason" and come
 * out as null, the one spelling the domain uses, so a retry that sends "" is
 * the same request as one that omits the field.
 */
export const retirementReasonSchema = z
  .string({ error: requiredOr('reason', 'a string or null') })
  .nullish()
  .transform((reason) => (reason == null || reason.trim() === '' ? null : reason))
  .pipe(text('reason', { max: 1000, kind: 'prose' }).nullable());

/** Names one request to act on part of a credit, so a retry finds the part the first try made. */
const requestIdSchema = z
  .string({ error: requiredOr('requestId', 'a string') })
  .regex(/^[A-Za-z0-9._:-]{1,100}$/, { error: 'requestId must be 1 to 100 characters: ASCII letters, digits and . _ : -' });

/** `quantity` asks for part of the credit, and then `requestId` is required. */
const partOf = <T extends { quantity?: string | undefined; requestId?: string | undefined }>(input: T, ctx: z.RefinementCtx) => {
  if (input.quantity !== undefined && input.requestId === undefined) {
    ctx.addIssue({ code: 'custom', path: ['requestId'], message: 'requestId is required with quantity: it names the part, so a retry finds it' });
  }
};

export const retireCreditInput = strictObject('retirement', {
  id: creditIdSchema,
  beneficiary: beneficiarySchema,
  reason: retirementReasonSchema,
  /** Retire only this much: it is split off first (the lowest units, for a block). */
  quantity: quantitySchema.optional(),
  requestId: requestIdSchema.optional(),
}).superRefine(partOf);

export const splitCreditInput = strictObject('split', {
  id: creditIdSchema,
  quantity: quantitySchema,
  requestId: requestIdSchema,
});

export const cancelCreditInput = strictObject('cancellation', {
  id: creditIdSchema,
  reason: text('reason', { max: 1000, kind: 'prose' }),
  quantity: quantitySchema.optional(),
  requestId: requestIdSchema.optional(),
}).superRefine(partOf);

export type RetireCreditInput = z.output<typeof retireCreditInput>;

const EARLIEST_INSTANT = new Date('1990-01-01T00:00:00Z');
const DAY_MS = 24 * 3600 * 1000;

/** An ISO-8601 instant no earlier than the first vintage and no later than a day from now (clocks differ). */
export const isoInstant = z.iso
  .datetime({ offset: true, error: 'at must be an ISO-8601 instant with a time zone, e.g. 2024-05-01T12:00:00Z' })
  .transform((s) => new Date(s))
  .refine((d) => d >= EARLIEST_INSTANT && d.getTime() <= Date.now() + DAY_MS, 'at must be between 1990-01-01T00:00:00Z and one day from now');
