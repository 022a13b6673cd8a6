import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { z } from 'zod';
import { creditId } from '../../server/credits/canonical-id.js';
import {
  beneficiarySchema,
  createCreditInput,
  creditIdSchema,
  projectNameSchema,
  quantitySchema,
  registrySchema,
  retireCreditInput,
  retirementReasonSchema,
  serialNumberSchema,
  vintageSchema,
  type CreateCreditInput,
  type RetireCreditInput,
} from '../../server/credits/credit.schema.js';
import type { CreditCommand } from '../../server/credits/decider.js';
import type { CreditFields } from '../../server/credits/events.js';

const valid = {
  projectName: 'Kasigau Corridor REDD+',
  registry: 'Verra',
  vintage: 2021,
  quantity: '100.0',
  serialNumber: 'VCS-1234-2021-001',
};
const validId = `cc_${'0123456789abcdef'.repeat(4)}`;

/** The issues of a failed parse, reduced to what a client sees. */
const issuesOf = (schema: z.ZodType, input: unknown) => {
  const result = schema.safeParse(input);
  if (result.success) throw new Error(`expected ${JSON.stringify(input)} to be rejected, got ${JSON.stringify(result.data)}`);
  return result.error.issues.map(({ path, message, code }) => ({ path, message, code }));
};

afterEach(() => {
  vi.useRealTimers();
});

describe.each([
  { field: 'projectName', schema: projectNameSchema, max: 200 },
  { field: 'registry', schema: registrySchema, max: 100 },
  { field: 'serialNumber', schema: serialNumberSchema, max: 200 },
  { field: 'beneficiary', schema: beneficiarySchema, max: 200 },
])('$field', ({ field, schema, max }) => {
  it.each([
    ['Verra', 'Verra'],
    ['  padded  ', 'padded'],
    ['\tinner  spaces kept\n', 'inner  spaces kept'],
    ['x'.repeat(max), 'x'.repeat(max)],
    [` ${'x'.repeat(max)} `, 'x'.repeat(max)],
  ])('accepts %j', (input, expected) => {
    expect(schema.parse(input)).toBe(expected);
  });

  it.each([
    ['', `${field} must not be empty`],
    [' \t\n ', `${field} must not be empty`],
    ['x'.repeat(max + 1), `${field} must be at most ${max} characters, got ${max + 1}`],
    ['a\u0000b', `${field} must not contain control characters (found U+0000 at character 2)`],
    ['a\nb', `${field} must not contain control characters (found U+000A at character 2)`],
    ['a\tb', `${field} must not contain control characters (found U+0009 at character 2)`],
    ['😀\u007f', `${field} must not contain control characters (found U+007F at character 2)`],
    ['a\u0085b', `${field} must not contain control characters (found U+0085 at character 2)`],
    ['a\uD800', `${field} must not contain unpaired surrogates (found U+D800 at character 2)`],
    [42, `${field} must be a string`],
    [null, `${field} must be a string`],
    [undefined, `${field} is required`],
  ])('rejects %j', (input, message) => {
    expect(issuesOf(schema, input).map((i) => i.message)).toEqual([message]);
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
        const once = schema.safeParse(s);
        if (once.success) expect(schema.parse(once.data)).toBe(once.data);
      }),
    );
  });
});

// Prose may be in any script; registry and serial number are identifiers,
// ASCII after NFKC (identifier-spoofing.test.ts has the look-alike cases).
describe.each([
  { field: 'projectName', schema: projectNameSchema, max: 200, normalised: 'Straße No 5 — 北' },
  { field: 'beneficiary', schema: beneficiarySchema, max: 200, normalised: 'Straße № 5 — 北' },
])('$field, which is prose', ({ field, schema, max, normalised }) => {
  it.each([
    ['Straße № 5 — 北', normalised],
    ['😀'.repeat(max), '😀'.repeat(max)],
  ])('accepts %j as %j', (input, expected) => {
    expect(schema.parse(input)).toBe(expected);
  });

  it('counts characters, not UTF-16 units', () => {
    expect(issuesOf(schema, '😀'.repeat(max + 1)).map((i) => i.message)).toEqual([
      `${field} must be at most ${max} characters, got ${max + 1}`,
    ]);
  });
});

describe.each([
  { field: 'registry', schema: registrySchema, max: 100 },
  { field: 'serialNumber', schema: serialNumberSchema, max: 200 },
])('$field, which is an identifier', ({ field, schema, max }) => {
  const allowed = 'allowed: ASCII letters, digits, space and - . _ / : +';
  it.each([
    ['Straße № 5 — 北', `${field} must not contain U+00DF "ß" at character 5; ${allowed}`],
    ['😀'.repeat(max), `${field} must not contain U+1F600 "😀" at character 1; ${allowed}`],
  ])('rejects %j, naming the first character that is not ASCII after NFKC', (input, message) => {
    expect(issuesOf(schema, input).map((i) => i.message)).toEqual([message]);
  });
});

describe('fields hashed into the credit ID', () => {
  it.each([
    ['projectName', projectNameSchema],
    ['registry', registrySchema],
    ['serialNumber', serialNumberSchema],
  ] as const)('%s refuses unassigned code points, which have no stable canonical form', (field, schema) => {
    expect(issuesOf(schema, 'VCS\u0378').map((i) => i.message)).toEqual([
      `${field} must not contain code points unassigned in this Unicode version (found U+0378 at character 4)`,
    ]);
  });

  it('beneficiary, which is not hashed, does not care', () => {
    expect(beneficiarySchema.parse('VCS\u0378')).toBe('VCS\u0378');
  });

  it('anything createCreditInput accepts can be given an ID', () => {
    fc.assert(
      fc.property(
        fc.record({
          projectName: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
          registry: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
          vintage: fc.integer({ min: 1990, max: 2025 }),
          quantity: fc.integer({ min: 1, max: 1e12 }),
          serialNumber: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
        }),
        (input) => {
          const parsed = createCreditInput.safeParse(input);
          if (parsed.success) expect(creditId(parsed.data)).toMatch(/^cc_[0-9a-f]{64}$/);
        },
      ),
    );
  });
});

describe('vintageSchema', () => {
  it.each([1990, 2000, 2021])('accepts %d', (year) => {
    expect(vintageSchema.parse(year)).toBe(year);
  });

  it.each([
    [1989, 'vintage must be between 1990 and'],
    [2021.5, 'vintage must be a whole year'],
    ['2021', 'vintage must be a year as a number'],
    [Number.NaN, 'vintage must be a year as a number'],
    [undefined, 'vintage is required'],
  ])('rejects %j', (input, message) => {
    const [issue, ...rest] = issuesOf(vintageSchema, input);
    expect(rest).toEqual([]);
    expect(issue?.message).toContain(message);
  });

  it('allows up to the current UTC year, read at parse time', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2030-12-31T23:59:59.999Z'));
    expect(vintageSchema.parse(2030)).toBe(2030);
    expect(issuesOf(vintageSchema, 2031)).toEqual([
      { path: [], code: 'too_big', message: 'vintage must be between 1990 and 2030 (the current UTC year)' },
    ]);

    vi.setSystemTime(new Date('2031-01-01T00:00:00.000Z'));
    expect(vintageSchema.parse(2031)).toBe(2031);
  });
});

describe('quantitySchema', () => {
  it.each([
    [10, '10'],
    ['10', '10'],
    ['10.0', '10'],
    ['10.000', '10'],
    [' 007.50 ', '7.5'],
    [0.1, '0.1'],
    [1e12, '1000000000000'],
  ])('accepts %j as %j', (input, expected) => {
    expect(quantitySchema.parse(input)).toBe(expected);
  });

  it.each([
    ['0', 'quantity must be greater than 0'],
    [-5, 'quantity must be greater than 0'],
    ['1e3', 'quantity must be a plain decimal number'],
    ['0.1234567', 'quantity must have at most 6 decimal places'],
    [0.1 + 0.2, 'quantity must have at most 6 decimal places'],
    ['1000000000000.5', 'quantity must be at most 1000000000000'],
    [true, 'quantity must be a decimal string or a number'],
    [undefined, 'quantity is required'],
  ])('rejects %j', (input, message) => {
    const [issue, ...rest] = issuesOf(quantitySchema, input);
    expect(rest).toEqual([]);
    expect(issue?.message).toContain(message);
  });

  it('outputs a canonical string that parses to itself', () => {
    const spelled = fc
      .tuple(fc.bigInt({ min: 0n, max: 10n ** 12n - 1n }), fc.nat({ max: 999_999 }), fc.nat({ max: 3 }))
      .filter(([integer, fraction]) => integer > 0n || fraction > 0)
      .map(([integer, fraction, zeros]) => `${integer}.${fraction.toString().padStart(6, '0')}${'0'.repeat(zeros)}`);
    fc.assert(
      fc.property(spelled, (input) => {
        const canonical = quantitySchema.parse(input);
        expect(quantitySchema.parse(canonical)).toBe(canonical);
        expect(canonical).not.toMatch(/^0[0-9]|\.[0-9]*0$|\.$/);
      }),
    );
  });
});

describe('createCreditInput', () => {
  it('trims text and canonicalises the quantity', () => {
    expect(createCreditInput.parse({ ...valid, projectName: `  ${valid.projectName} ` })).toEqual({
      ...valid,
      quantity: '100',
    });
  });

  it.each([
    ['projectName', '   ', 'projectName must not be empty'],
    ['registry', 'r'.repeat(101), 'registry must be at most 100 characters, got 101'],
    ['vintage', 1900, 'vintage must be between 1990 and'],
    ['quantity', '-1', 'quantity must be greater than 0'],
    ['serialNumber', 'a\u0000', 'serialNumber must not contain control characters'],
  ])('names %s in the error path', (field, value, message) => {
    const issues = issuesOf(createCreditInput, { ...valid, [field]: value });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toEqual([field]);
    expect(issues[0]?.message).toContain(message);
  });

  it('reports every bad field at once, each under its own path', () => {
    const issues = issuesOf(createCreditInput, { projectName: '', registry: 7, vintage: 2021.5, quantity: '0' });
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      [['projectName'], 'projectName must not be empty'],
      [['registry'], 'registry must be a string'],
      [['vintage'], 'vintage must be a whole year'],
      [['quantity'], 'quantity must be greater than 0'],
      [['serialNumber'], 'serialNumber is required'],
    ]);
  });

  it('rejects unknown keys and names them', () => {
    expect(issuesOf(createCreditInput, { ...valid, owner: 'x', id: validId })).toEqual([
      {
        path: [],
        code: 'unrecognized_keys',
        message: 'credit has unknown field(s): owner, id; allowed: projectName, registry, vintage, quantity, serialNumber, unitRange',
      },
    ]);
  });

  it('rejects a non-object', () => {
    expect(issuesOf(createCreditInput, 'Verra').map((i) => i.message)).toEqual(['credit must be an object']);
  });

  it('produces exactly the domain fields', () => {
    const fields: CreditFields = createCreditInput.parse(valid) satisfies CreateCreditInput;
    expect(Object.keys(fields).sort()).toEqual(['projectName', 'quantity', 'registry', 'serialNumber', 'vintage']);
  });
});

describe('creditIdSchema', () => {
  it('accepts the ID form', () => {
    expect(creditIdSchema.parse(validId)).toBe(validId);
  });

  it.each([
    [`cc_${'A'.repeat(64)}`],
    [`cc_${'0'.repeat(63)}`],
    [`cc_${'0'.repeat(65)}`],
    [` ${validId}`],
    [validId.replace('cc_', 'CC_')],
    [`cc_${'g'.repeat(64)}`],
    [''],
  ])('rejects %j, saying what the form is', (input) => {
    expect(issuesOf(creditIdSchema, input).map((i) => i.message)).toEqual([
      'id must be "cc_" followed by 64 lowercase hexadecimal digits',
    ]);
  });

  it('rejects a missing id', () => {
    expect(issuesOf(creditIdSchema, undefined).map((i) => i.message)).toEqual(['id is required']);
  });
});

describe('retirementReasonSchema', () => {
  it.each([
    [undefined, null],
    [null, null],
    ['', null],
    [' \t\n ', null],
    ['  FY24 offset ', 'FY24 offset'],
    ['r'.repeat(1000), 'r'.repeat(1000)],
  ])('maps %j to %j', (input, expected) => {
    expect(retirementReasonSchema.parse(input)).toBe(expected);
  });

  it.each([
    ['r'.repeat(1001), 'reason must be at most 1000 characters, got 1001'],
    ['line one\nline two', 'reason must not contain control characters (found U+000A at character 9)'],
    [42, 'reason must be a string or null'],
  ])('rejects %j', (input, message) => {
    expect(issuesOf(retirementReasonSchema, input).map((i) => i.message)).toEqual([message]);
  });
});

describe('retireCreditInput', () => {
  it('fills in a missing reason as null', () => {
    expect(retireCreditInput.parse({ id: validId, beneficiary: ' Acme Ltd ' })).toEqual({
      id: validId,
      beneficiary: 'Acme Ltd',
      reason: null,
    });
  });

  it.each([
    ['id', 'cc_nope', 'id must be "cc_"'],
    ['beneficiary', '', 'beneficiary must not be empty'],
    ['reason', 'x'.repeat(1001), 'reason must be at most 1000 characters'],
  ])('names %s in the error path', (field, value, message) => {
    const issues = issuesOf(retireCreditInput, { id: validId, beneficiary: 'Acme Ltd', [field]: value });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toEqual([field]);
    expect(issues[0]?.message).toContain(message);
  });

  it('rejects unknown keys', () => {
    expect(issuesOf(retireCreditInput, { id: validId, beneficiary: 'A', note: 'x' })).toEqual([
      { path: [], code: 'unrecognized_keys', message: 'retirement has unknown field(s): note; allowed: id, beneficiary, reason, quantity, requestId' },
    ]);
  });

  it('maps onto the request_retirement command without conversion', () => {
    const { id, ...request }: RetireCreditInput = retireCreditInput.parse({ id: validId, beneficiary: 'Acme Ltd', reason: '' });
    const command: CreditCommand = { type: 'request_retirement', ...request };
    expect(id).toBe(validId);
    expect(command).toEqual({ type: 'request_retirement', beneficiary: 'Acme Ltd', reason: null });
  });
});
