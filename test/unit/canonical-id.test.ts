import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalForm,
  canonicalRegistry,
  canonicalSerial,
  canonicalText,
  creditId,
} from '../../server/credits/canonical-id.js';
import { createCreditInput, creditIdSchema } from '../../server/credits/credit.schema.js';
import type { CreditFields } from '../../server/credits/events.js';
import { canonicalQuantity } from '../../server/credits/quantity.js';

/**
 * Pinned so the ID rule cannot drift silently: changing it would re-key every
 * stored credit. Recompute (and bump "cc-v1") only on purpose.
 */
export const KNOWN_ANSWER = {
  fields: {
    projectName: 'Kasigau Corridor REDD+',
    registry: 'Verra',
    vintage: 2021,
    quantity: '100',
    serialNumber: 'VCS-1234-2021-001',
  },
  id: 'cc_fb97420f9a0c05d0f2ab03c6246a35a29ff8f58ee380e46d641e04bd207bc00b',
} as const satisfies { fields: CreditFields; id: string };

const ID_FORM = /^cc_[0-9a-f]{64}$/;

// Letters whose case, composition or whitespace behaviour is easy to get wrong,
// mixed with plain ASCII so most generated names look like real ones.
const tricky = [
  'ß', 'SS', 'ẞ', 'é', 'e\u0301', 'É', 'Å', '\u212B', 'Ω', '\u2126', '\u212A', 'Σ', 'σ', 'ς', 'İ', 'ı', 'ﬀ',
  'ǅ', 'ŉ', 'ΐ', 'Ⴀ', 'ა', 'Ꭰ', 'ꭰ', 'ǰ', 'ﬅ', 'Ǆ', '한', 'ᄒ\u1161\u11AB', '中', '😀', '-', '/', '+', '"', '\\', ',',
];
const unit = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...'abcXYZ0123456789'.split('')) },
  { weight: 2, arbitrary: fc.constant(' ') },
  { weight: 3, arbitrary: fc.constantFrom(...tricky) },
);
const textArb = fc.array(unit, { minLength: 1, maxLength: 24 }).map((parts) => parts.join(''));

const whitespaceRun = fc.constantFrom(' ', '  ', '\t', '\n', '\u00a0', '\u3000', ' \r\n ', '\u2003');
const caseChange = fc.constantFrom<(c: string) => string>(
  (c) => c,
  (c) => c.toUpperCase(),
  (c) => c.toLowerCase(),
);

/** An equivalent spelling: per-character case changes, NFC or NFD, different whitespace runs and padding. */
const respell = (s: string) =>
  fc
    .record({
      cases: fc.array(caseChange, { minLength: 64, maxLength: 64 }),
      form: fc.constantFrom<'NFC' | 'NFD'>('NFC', 'NFD'),
      runs: fc.array(whitespaceRun, { minLength: 64, maxLength: 64 }),
      before: fc.constantFrom('', ' ', '\t', '\u00a0 '),
      after: fc.constantFrom('', ' ', '\n', ' \u3000'),
    })
    .map(({ cases, form, runs, before, after }) => {
      const chars = [...s].map((c, i) => (cases[i % 64] ?? ((x: string) => x))(c));
      let run = 0;
      const spaced = chars.join('').replace(/ +/g, () => runs[run++ % 64] ?? ' ');
      return before + spaced.normalize(form) + after;
    });

const micros = fc.bigInt({ min: 1n, max: 10n ** 18n });
const quantityArb = micros.map((m) => canonicalQuantity(`${m / 1_000_000n}.${(m % 1_000_000n).toString().padStart(6, '0')}`));

const fieldsArb: fc.Arbitrary<CreditFields> = fc.record({
  projectName: textArb,
  registry: textArb,
  vintage: fc.integer({ min: 1990, max: 2100 }),
  quantity: quantityArb,
  serialNumber: textArb,
});

/** Spellings a client may legitimately send for one quantity: padded, zero-extended, or as a number. */
const respellQuantity = (q: string) =>
  fc.record({ zeros: fc.nat({ max: 4 }), leading: fc.nat({ max: 3 }), asNumber: fc.boolean() }).map(({ zeros, leading, asNumber }) => {
    if (asNumber && q.replace('.', '').replace(/^0+/, '').length <= 15) return canonicalQuantity(Number(q));
    const padded = `${'0'.repeat(leading)}${q}${q.includes('.') ? '' : '.'}${'0'.repeat(zeros + 1)}`;
    return canonicalQuantity(padded);
  });

describe('canonicalText', () => {
  // Golden outputs: a Node/ICU upgrade that changes any of these changes IDs.
  it.each([
    ['  Kasigau   Corridor\tREDD+ ', 'kasigau corridor redd+'],
    ['Straße', 'strasse'],
    ['STRASSE', 'strasse'],
    ['STRAẞE', 'strasse'],
    ['Cafe\u0301', 'café'],
    ['CAFÉ', 'café'],
    ['ΟΔΟΣ', 'οδος'],
    ['\u212Bngstr\u00F6m', 'ångström'],
    ['İstanbul', 'i\u0307stanbul'],
    ['ﬀ', 'ff'],
    ['ǅ', 'ǆ'],
    ['Ⴀ', 'ⴀ'],
    ['Ꭰ', 'ꭰ'],
    ['a\u00a0\u2003b', 'a b'],
  ])('%j → %j', (input, expected) => {
    expect(canonicalText(input)).toBe(expected);
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(textArb.chain(respell), (s) => {
        expect(canonicalText(canonicalText(s))).toBe(canonicalText(s));
      }),
      { numRuns: 500 },
    );
  });

  it('agrees on every equivalent spelling', () => {
    fc.assert(
      fc.property(textArb.chain((s) => fc.tuple(fc.constant(s), respell(s))), ([s, variant]) => {
        expect(canonicalText(variant)).toBe(canonicalText(s));
      }),
      { numRuns: 500 },
    );
  });

  it('is what the unique key uses for registry and serial', () => {
    expect(canonicalRegistry(' VERRA ')).toBe('verra');
    expect(canonicalSerial('vcs-1234-2021-001 ')).toBe(canonicalSerial('VCS-1234-2021-001'));
  });

  it.each([
    ['an unpaired surrogate', 'VCS\uD800'],
    ['an unassigned code point', 'VCS\u0378'],
    ['a noncharacter', 'VCS\uFFFF'],
  ])('refuses text with %s', (_, input) => {
    expect(() => canonicalText(input)).toThrow(/U\+(D800|0378|FFFF).*no stable canonical form/);
  });
});

describe('creditId', () => {
  it('matches the pinned known answer', () => {
    expect(creditId(KNOWN_ANSWER.fields)).toBe(KNOWN_ANSWER.id);
  });

  it('hashes this exact canonical form', () => {
    expect(JSON.stringify(canonicalForm(KNOWN_ANSWER.fields))).toBe(
      '["cc-v1","verra","kasigau corridor redd+",2021,"100","vcs-1234-2021-001"]',
    );
  });

  it('has the documented shape, which the API schema accepts', () => {
    fc.assert(
      fc.property(fieldsArb, (fields) => {
        const id = creditId(fields);
        expect(id).toMatch(ID_FORM);
        expect(creditIdSchema.parse(id)).toBe(id);
      }),
    );
  });

  it('gives every equivalent spelling of a credit the same ID', () => {
    const withVariant = fieldsArb.chain((fields) =>
      fc.tuple(
        fc.constant(fields),
        fc.record({
          projectName: respell(fields.projectName),
          registry: respell(fields.registry),
          vintage: fc.constant(fields.vintage),
          quantity: respellQuantity(fields.quantity),
          serialNumber: respell(fields.serialNumber),
        }),
      ),
    );
    fc.assert(
      fc.property(withVariant, ([fields, variant]) => {
        expect(creditId(variant)).toBe(creditId(fields));
      }),
      { numRuns: 300 },
    );
  });

  it.each([['10'], ['10.0'], ['10.000'], ['010'], [' 10 ']])('quantity %j has the same ID as the number 10', (quantity) => {
    const fromNumber = { ...KNOWN_ANSWER.fields, quantity: canonicalQuantity(10) };
    expect(creditId({ ...KNOWN_ANSWER.fields, quantity })).toBe(creditId(fromNumber));
  });

  it('is the ID of the schema-parsed input, whatever the spelling sent', () => {
    const sent = createCreditInput.parse({
      projectName: '  KASIGAU corridor   redd+ ',
      registry: 'verra',
      vintage: 2021,
      quantity: 100,
      serialNumber: 'vcs-1234-2021-001',
    });
    expect(creditId(sent)).toBe(KNOWN_ANSWER.id);
  });

  const textFields = ['projectName', 'registry', 'serialNumber'] as const;

  it.each(textFields)('changes when %s changes canonically', (field) => {
    fc.assert(
      fc.property(fieldsArb, textArb, (fields, replacement) => {
        fc.pre(canonicalText(replacement) !== canonicalText(fields[field]));
        expect(creditId({ ...fields, [field]: replacement })).not.toBe(creditId(fields));
      }),
    );
  });

  it('changes when vintage changes', () => {
    fc.assert(
      fc.property(fieldsArb, fc.integer({ min: 1990, max: 2100 }), (fields, vintage) => {
        fc.pre(vintage !== fields.vintage);
        expect(creditId({ ...fields, vintage })).not.toBe(creditId(fields));
      }),
    );
  });

  it('changes when quantity changes', () => {
    fc.assert(
      fc.property(fieldsArb, quantityArb, (fields, quantity) => {
        fc.pre(quantity !== fields.quantity);
        expect(creditId({ ...fields, quantity })).not.toBe(creditId(fields));
      }),
    );
  });

  it('cannot be fooled by moving text across a field boundary', () => {
    const base = KNOWN_ANSWER.fields;
    const ids = new Set([
      creditId({ ...base, registry: 'a', projectName: 'b c' }),
      creditId({ ...base, registry: 'a b', projectName: 'c' }),
      creditId({ ...base, registry: 'a","b', projectName: 'c' }),
      creditId({ ...base, registry: 'a', projectName: 'b","c' }),
      creditId({ ...base, registry: 'a\\', projectName: '","b' }),
    ]);
    expect(ids.size).toBe(5);
  });

  it('differs for fields that are different but swapped', () => {
    const base = KNOWN_ANSWER.fields;
    expect(creditId({ ...base, projectName: base.registry, registry: base.projectName })).not.toBe(creditId(base));
    expect(creditId({ ...base, serialNumber: base.projectName, projectName: base.serialNumber })).not.toBe(creditId(base));
  });

  it('refuses a non-integer vintage or an invalid quantity rather than hashing it', () => {
    expect(() => creditId({ ...KNOWN_ANSWER.fields, vintage: 2021.5 })).toThrow(/vintage/);
    expect(() => creditId({ ...KNOWN_ANSWER.fields, quantity: '-1' })).toThrow(/quantity/);
  });
});
