import fc from 'fast-check';
import { parseSerial, unitCount } from '../../server/credits/serial-ranges.js';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { canonicalRegistry, canonicalSerial, creditId } from '../../server/credits/canonical-id.js';
import {
  beneficiarySchema,
  createCreditInput,
  IDENTIFIER_SEPARATORS,
  projectNameSchema,
  registrySchema,
  retirementReasonSchema,
  serialNumberSchema,
} from '../../server/credits/credit.schema.js';
import type { CreditFields } from '../../server/credits/events.js';
import { listCreditsInput } from '../../server/credits/list.schema.js';

/*
 * Double issuance through look-alike identifiers: a second spelling of a
 * registry block that renders the same on screen must never become a second
 * credit. Registry and serial number are identifiers (NFKC, then ASCII letters,
 * digits, space and - . _ / : +); project names stay Unicode but are NFKC'd and
 * refuse invisible characters. Every variant below is either refused by the
 * input schema, or parses to the original's credit ID and (registry, serial) key.
 */

const ALLOWED = 'allowed: ASCII letters, digits, space and - . _ / : +';
const DASH_HINT = ': Unicode hyphens and dashes are not read as "-", type the ASCII hyphen-minus';
const IDENTIFIER_OUTPUT = /^[A-Za-z0-9 ._/:+-]+$/;

const base: CreditFields = {
  projectName: 'Kasigau Corridor REDD+',
  registry: 'Verra',
  vintage: 2021,
  quantity: '100',
  serialNumber: 'S-1',
};

/** The quantity a credit with this serial must have: the unit count when the serial spells a range, else `otherwise`. */
const quantityFor = (serialNumber: string, otherwise: string): string => {
  const parsed = parseSerial(serialNumber);
  return parsed ? String(unitCount(parsed.units)) : otherwise;
};

const messagesOf = (schema: z.ZodType, input: unknown) => {
  const result = schema.safeParse(input);
  if (result.success) throw new Error(`expected ${JSON.stringify(input)} to be refused, got ${JSON.stringify(result.data)}`);
  return result.error.issues.map(({ path, message }) => ({ path, message }));
};

/** What decides "same credit": the ID, and the natural key the store is unique on. */
const identityOf = (fields: CreditFields) => ({
  id: creditId(fields),
  key: [canonicalRegistry(fields.registry), canonicalSerial(fields.serialNumber)],
});

const hex = (c: string) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

describe('the security review findings', () => {
  const original = createCreditInput.parse(base);

  it.each([
    ['S-\u200b1', `serialNumber must not contain U+200B (ZERO WIDTH SPACE) at character 3; ${ALLOWED}`],
    ['S-1\u200d', `serialNumber must not contain U+200D (ZERO WIDTH JOINER) at character 4; ${ALLOWED}`],
    ['S\u20101', `serialNumber must not contain U+2010 (HYPHEN) at character 2${DASH_HINT}; ${ALLOWED}`],
    ['\u202eS-1', `serialNumber must not contain U+202E (RIGHT-TO-LEFT OVERRIDE) at character 1; ${ALLOWED}`],
  ])('serial %j is refused, naming the character', (serialNumber, message) => {
    expect(messagesOf(createCreditInput, { ...base, serialNumber })).toEqual([{ path: ['serialNumber'], message }]);
  });

  it('registry "Ver\\u200bra" is refused, naming the character', () => {
    expect(messagesOf(createCreditInput, { ...base, registry: 'Ver\u200bra' })).toEqual([
      { path: ['registry'], message: `registry must not contain U+200B (ZERO WIDTH SPACE) at character 4; ${ALLOWED}` },
    ]);
  });

  it('full-width "Ｓ-１" is "S-1": the same ID and key, so a second create is the existing credit', () => {
    const fullWidth = createCreditInput.parse({ ...base, serialNumber: 'Ｓ-１' });
    expect(fullWidth.serialNumber).toBe('S-1');
    expect(identityOf(fullWidth)).toEqual(identityOf(original));
  });

  it('a full-width registry is the same registry, and the output is what is stored', () => {
    const parsed = createCreditInput.parse({ ...base, registry: 'Ｖｅｒｒａ', serialNumber: 'Ｓ－１' });
    expect(parsed).toEqual(original);
  });
});

describe('real registries and serial numbers are accepted unchanged', () => {
  it.each([
    ['Verra', '19298-935995787-935995804-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0'],
    ['Verra', '0001-000001-000100-VCS-VCU-003-VER-US-0003-01012020-31122020-1'],
    ['Gold Standard', 'GS1-1-TR-GS7652-12-2025-29983-1-5085'],
    ['Puro.earth', 'PURO_PR_CORC100+_FI_577166_2020_055a3fbe-eabc-4535-b9cf-1028e7d18f89_1-100'],
    ['Climate Action Reserve', 'CAR-1-US-293-1-120-CA-2006-102-1 to 29251'],
    ['American Carbon Registry', 'ACR-US-192-2010-203-1-5000'],
    // No published serial format found; the registry's own IDs look like this one (registry.isometric.com).
    ['Isometric', 'ctn_1KT1RBDYV1S070PC'],
  ])('%s %s', (registry, serialNumber) => {
    // A serial that spells a range of units (Verra, Gold Standard) needs their count as the quantity.
    const parsed = createCreditInput.parse({ ...base, registry, serialNumber, quantity: quantityFor(serialNumber, base.quantity) });
    expect(parsed.registry).toBe(registry);
    expect(parsed.serialNumber).toBe(serialNumber);
  });

  it('every ASCII input that was valid keeps its spelling, so its ID is unchanged', () => {
    const printable = fc
      .string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 40 })
      .filter((s) => s.trim() !== '');
    fc.assert(
      fc.property(printable, (s) => {
        expect(projectNameSchema.parse(s)).toBe(s.trim());
        const serial = serialNumberSchema.safeParse(s);
        const expected = [...s.trim()].every((c) => IDENTIFIER_OUTPUT.test(c));
        expect(serial.success).toBe(expected);
        if (serial.success) expect(serial.data).toBe(s.trim());
      }),
    );
  });

  it('pins the known answer through the schema', () => {
    const parsed = createCreditInput.parse({ ...base, serialNumber: 'VCS-1234-2021-001' });
    expect(creditId(parsed)).toBe('cc_fb97420f9a0c05d0f2ab03c6246a35a29ff8f58ee380e46d641e04bd207bc00b');
  });

  it.each(['Architecture for REDD+ Transactions', 'Global Carbon Council', 'BioCarbon Registry', 'Plan Vivo'])('registry name %j', (registry) => {
    expect(registrySchema.parse(registry)).toBe(registry);
  });

  it('documents the separators it accepts', () => {
    expect(IDENTIFIER_SEPARATORS).toEqual([' ', '-', '.', '_', '/', ':', '+']);
  });
});

// --- Look-alike generators -------------------------------------------------

/** Never visible, or visible only as a gap; inside an identifier they are refused. */
const INVISIBLES = [
  '\u00ad', '\u034f', '\u061c', '\u115f', '\u1160', '\u17b4', '\u180e', '\u200b', '\u200c', '\u200d', '\u200e', '\u200f',
  '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2060', '\u2061', '\u2062', '\u2063', '\u2064', '\u2066', '\u2067',
  '\u2068', '\u2069', '\u206a', '\u2800', '\u3164', '\ufe0f', '\ufeff', '\uffa0', '\u{e0001}', '\u{e0041}', '\u{e0100}',
  '\u{1d173}', '\u{1bca0}',
];

/**
 * Hyphens, dashes and minus signs other than U+002D, and the katakana long
 * vowel mark that looks like one; refused in identifiers, except the
 * full-width and small hyphen-minus, which NFKC makes "-".
 */
const DASHES = [
  '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\u2043',
  '\u207b', '\u208b', '\u2e3a', '\ufe58', '\ufe63', '\uff0d', '\u058a', '\u30fc',
];

/** Spaces that render as one: NFKC makes most of them U+0020; the rest are refused. */
const SPACES = ['\u00a0', '\u2002', '\u2003', '\u2007', '\u2009', '\u200a', '\u202f', '\u205f', '\u3000', '\u1680'];

const SUPERSCRIPT_DIGITS = ['\u2070', '\u00b9', '\u00b2', '\u00b3', '\u2074', '\u2075', '\u2076', '\u2077', '\u2078', '\u2079'];
const ROMAN: Readonly<Record<string, number>> = { I: 0x2160, V: 0x2164, X: 0x2169, L: 0x216c, C: 0x216d, D: 0x216e, M: 0x216f };
/** Other scripts' twins of Latin letters: they stay themselves under NFKC, so an identifier refuses them. */
const OTHER_SCRIPT: Readonly<Record<string, string>> = {
  A: '\u0410', B: '\u0392', C: '\u0421', E: '\u0415', H: '\u041d', I: '\u0406', K: '\u039a', M: '\u041c', O: '\u041e',
  P: '\u0420', S: '\u0405', T: '\u0422', X: '\u03a7', a: '\u0430', c: '\u0441', e: '\u0435', i: '\u0456', o: '\u03bf',
  p: '\u0440', s: '\u0455', x: '\u0445', y: '\u0443', '0': '\u041e', '1': '\u0406',
};
const PUNCTUATION: Readonly<Record<string, readonly string[]>> = {
  '.': ['\u2024', '\uff0e', '\ufe52', '\u00b7', '\u2219'],
  '/': ['\uff0f', '\u2215', '\u2044', '\u29f8'],
  ':': ['\uff1a', '\ufe55', '\u2236', '\ua789', '\u02d0'],
  _: ['\uff3f', '\ufe4d', '\u2017'],
  '+': ['\uff0b', '\u207a', '\u208a', '\ufe62', '\u2795'],
};
/** Several ASCII letters drawn as one compatibility character. */
const LIGATURES: readonly (readonly [string, string])[] = [
  ['fi', '\ufb01'], ['fl', '\ufb02'], ['ff', '\ufb00'], ['IJ', '\u0132'], ['II', '\u2161'], ['IV', '\u2163'],
  ['VI', '\u2165'], ['XI', '\u216a'], ['No', '\u2116'], ['TM', '\u2122'], ['...', '\u2026'], ['10', '\u2469'],
];

const at = (base: number, offset: number) => String.fromCodePoint(base + offset);

/**
 * Spellings that render like `c` (or nearly): compatibility forms that NFKC
 * maps back to `c`, and forms it leaves alone (dashes, other scripts).
 */
function lookalikesOf(c: string, { crossScript = true } = {}): string[] {
  const code = c.charCodeAt(0);
  const out: string[] = [];
  if (code > 0x20 && code < 0x7f) out.push(at(code, 0xfee0)); // full-width
  if (c === ' ') out.push(...SPACES);
  if (c === '-') out.push(...DASHES);
  out.push(...(PUNCTUATION[c] ?? []));
  if (/[A-Z]/.test(c)) {
    const i = code - 0x41;
    out.push(at(0x1d400, i), at(0x1d5d4, i), at(0x1d670, i), at(0x24b6, i), at(0x1f130, i)); // bold 𝐒, sans bold, mono, Ⓢ, 🄰
    const roman = ROMAN[c];
    if (roman !== undefined) out.push(at(roman, 0));
  }
  if (/[a-z]/.test(c)) {
    const i = code - 0x61;
    out.push(at(0x1d41a, i), at(0x1d68a, i), at(0x24d0, i));
    const roman = ROMAN[c.toUpperCase()];
    if (roman !== undefined) out.push(at(roman, 0x10));
  }
  if (/[0-9]/.test(c)) {
    const d = code - 0x30;
    out.push(SUPERSCRIPT_DIGITS[d] ?? c, at(0x2080, d), at(0x1d7ce, d), at(0x1d7d8, d), d === 0 ? '\u24ea' : at(0x2460, d - 1));
  }
  if (crossScript) {
    const twin = OTHER_SCRIPT[c];
    if (twin !== undefined) out.push(twin);
  }
  return out;
}

/** Only the forms NFKC maps back to the ASCII character (what an identifier accepts). */
const compatibilityFormsOf = (c: string) => lookalikesOf(c, { crossScript: false }).filter((l) => l.normalize('NFKC') === c);

type VariantOptions = { compatibilityOnly?: boolean; invisibles?: boolean };

/** A spelling of `s` that renders the same (or nearly): per-character look-alikes, ligatures, invisible characters anywhere. */
function variantOf(s: string, { compatibilityOnly = false, invisibles = true }: VariantOptions = {}) {
  const chars = [...s];
  return fc
    .record({
      swaps: fc.array(fc.option(fc.nat(), { freq: 2 }), { minLength: chars.length, maxLength: chars.length }),
      ligatures: fc.boolean(),
      inserts: invisibles ? fc.array(fc.tuple(fc.nat({ max: chars.length }), fc.constantFrom(...INVISIBLES)), { maxLength: 3 }) : fc.constant([]),
    })
    .map(({ swaps, ligatures, inserts }) => {
      let out = chars.map((c, i) => {
        const pick = swaps[i];
        if (pick === null || pick === undefined) return c;
        const forms = compatibilityOnly ? compatibilityFormsOf(c) : lookalikesOf(c);
        return forms.length === 0 ? c : (forms[pick % forms.length] ?? c);
      });
      if (ligatures) {
        let joined = out.join('');
        for (const [ascii, ligature] of LIGATURES) joined = joined.replace(ascii, ligature);
        out = [...joined];
      }
      for (const [index, char] of [...inserts].sort((a, b) => b[0] - a[0])) out.splice(Math.min(index, out.length), 0, char);
      return out.join('');
    });
}

// --- Realistic identifiers --------------------------------------------------

const digits = (min: number, max: number) => fc.integer({ min, max }).map(String);
const country = fc.constantFrom('BR', 'TR', 'US', 'IN', 'FI', 'KE', 'ID', 'CN', 'MX', 'PE', 'KH', 'CD');
const ddmmyyyy = fc.tuple(fc.integer({ min: 1, max: 28 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 2005, max: 2025 }))
  .map(([d, m, y]) => `${String(d).padStart(2, '0')}${String(m).padStart(2, '0')}${y}`);
const year = digits(2005, 2025);

const verraSerial = fc
  .tuple(
    digits(1, 99999),
    digits(1, 999999999),
    digits(1, 999999),
    digits(1, 2000),
    country,
    digits(1, 16),
    digits(1, 5000),
    ddmmyyyy,
    ddmmyyyy,
    fc.constantFrom('0', '1'),
  )
  .map(([batch, start, n, pid, cc, scope, project, from, to, flag]) =>
    `${batch}-${start}-${String(Number(start) + Number(n))}-VCS-VCU-${pid}-VER-${cc}-${scope}-${project}-${from}-${to}-${flag}`);
const goldStandardSerial = fc
  .tuple(country, digits(1, 12000), digits(1, 99), year, digits(1, 99999), digits(1, 99999), digits(1, 99999))
  .map(([cc, gs, n, y, a, b, c]) => `GS1-1-${cc}-GS${gs}-${n}-${y}-${a}-${b}-${c}`);
const carSerial = fc
  .tuple(digits(1, 2000), digits(1, 120), digits(1, 999), fc.constantFrom('CA', 'TX', 'OR', 'PA'), year, digits(1, 9999), digits(1, 999999))
  .map(([id, type, dev, state, y, batch, end]) => `CAR-1-US-${id}-${type}-${dev}-${state}-${y}-${batch}-1 to ${end}`);
const acrSerial = fc
  .tuple(digits(1, 999), year, digits(1, 999), digits(1, 99999), digits(1, 99999))
  .map(([id, y, batch, start, n]) => `ACR-US-${id}-${y}-${batch}-${start}-${String(Number(start) + Number(n))}`);
const puroSerial = fc
  .tuple(country, digits(100000, 999999), year, fc.uuid(), digits(1, 9999))
  .map(([cc, facility, y, uuid, end]) => `PURO_PR_CORC100+_${cc}_${facility}_${y}_${uuid}_1-${end}`);
const segment = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'), minLength: 1, maxLength: 8 });
const freeSerial = fc
  .tuple(segment, fc.array(fc.tuple(fc.constantFrom('-', '-', '-', '_', '.', '/', ':', '+', ' '), segment), { maxLength: 10 }))
  .map(([first, rest]) => first + rest.map(([sep, seg]) => sep + seg).join(''));
const serialArb = fc.oneof(verraSerial, goldStandardSerial, carSerial, acrSerial, puroSerial, freeSerial);

const registryArb = fc.oneof(
  fc.constantFrom(
    'Verra',
    'Gold Standard',
    'Puro.earth',
    'Isometric',
    'American Carbon Registry',
    'Climate Action Reserve',
    'ACR',
    'CAR',
    'Plan Vivo',
    'Global Carbon Council',
    'BioCarbon Registry',
  ),
  fc.array(segment, { minLength: 1, maxLength: 3 }).map((words) => words.join(' ')),
);
const projectNameArb = fc.constantFrom(
  'Kasigau Corridor REDD+',
  'Rimba Raya Biodiversity Reserve',
  'Katingan Peatland Restoration and Conservation',
  'Cordillera Azul National Park',
  'Keo Seima Wildlife Sanctuary',
  'Mai Ndombe REDD+',
  'Bull Run Forest Carbon Project 1',
  'Stockholm Exergi BECCS',
);

const fieldsArb: fc.Arbitrary<CreditFields> = fc
  .record({
    projectName: projectNameArb,
    registry: registryArb,
    vintage: fc.integer({ min: 2005, max: 2025 }),
    quantity: fc.constantFrom('1', '100', '2.5', '29250'),
    serialNumber: serialArb,
  })
  .map((f) => ({ ...f, quantity: quantityFor(f.serialNumber, f.quantity) }));

describe('no two inputs that render the same can produce two credits', () => {
  it('the generated originals are valid and keep their spelling', () => {
    fc.assert(
      fc.property(fieldsArb, (fields) => {
        expect(createCreditInput.parse(fields)).toEqual(fields);
      }),
    );
  });

  it('every look-alike of registry and serial is refused, or is the same credit', () => {
    const pairs = fieldsArb.chain((fields) =>
      fc.tuple(
        fc.constant(fields),
        fc
          .tuple(variantOf(fields.registry), variantOf(fields.serialNumber))
          .map(([registry, serialNumber]) => ({ ...fields, registry, serialNumber })),
      ),
    );
    fc.assert(
      fc.property(pairs, ([fields, variant]) => {
        const parsed = createCreditInput.safeParse(variant);
        if (!parsed.success) {
          for (const issue of parsed.error.issues) expect(['registry', 'serialNumber']).toContain(issue.path[0]);
          return;
        }
        expect(parsed.data.registry).toMatch(IDENTIFIER_OUTPUT);
        expect(parsed.data.serialNumber).toMatch(IDENTIFIER_OUTPUT);
        expect(identityOf(parsed.data)).toEqual(identityOf(fields));
      }),
      { numRuns: 1000 },
    );
  });

  it('compatibility forms (full-width, 𝐒, Ⓢ, ①, ¹, Ⅰ, ﬁ, NBSP, ideographic space) are accepted as the same credit', () => {
    const pairs = fieldsArb.chain((fields) =>
      fc.tuple(
        fc.constant(fields),
        fc
          .tuple(
            variantOf(fields.registry, { compatibilityOnly: true, invisibles: false }),
            variantOf(fields.serialNumber, { compatibilityOnly: true, invisibles: false }),
          )
          .map(([registry, serialNumber]) => ({ ...fields, registry, serialNumber })),
      ),
    );
    fc.assert(
      fc.property(pairs, ([fields, variant]) => {
        expect(identityOf(createCreditInput.parse(variant))).toEqual(identityOf(fields));
      }),
      { numRuns: 500 },
    );
  });

  it('an invisible, format or bidi character inside a registry or serial is always refused, naming it', () => {
    const cases = fc.tuple(
      serialArb.filter((s) => s.length >= 2),
      fc.nat(),
      fc.constantFrom(...INVISIBLES),
      fc.constantFrom('registry', 'serialNumber'),
    );
    fc.assert(
      fc.property(cases, ([serial, where, invisible, field]) => {
        const chars = [...serial];
        const index = 1 + (where % (chars.length - 1)); // strictly inside: at the ends, trimming may remove whitespace such as U+FEFF
        const value = [...chars.slice(0, index), invisible, ...chars.slice(index)].join('');
        const issues = messagesOf(createCreditInput, { ...base, [field]: value });
        expect(issues).toHaveLength(1);
        expect(issues[0]?.path).toEqual([field]);
        expect(issues[0]?.message).toContain(`${field} must not contain ${hex(invisible)}`);
        expect(issues[0]?.message).toContain(`at character ${index + 1}`);
      }),
      { numRuns: 500 },
    );
  });

  it('a Unicode hyphen or dash in place of "-" is refused and said to be one (full-width and small hyphen-minus are "-")', () => {
    const withHyphen = serialArb.filter((s) => s.includes('-'));
    fc.assert(
      fc.property(withHyphen, fc.constantFrom(...DASHES), (serial, dash) => {
        const value = serial.replace('-', dash);
        const parsed = serialNumberSchema.safeParse(value);
        if (dash.normalize('NFKC') === '-') {
          expect(parsed.success && parsed.data).toBe(serial);
        } else {
          expect(parsed.success).toBe(false);
          expect(messagesOf(serialNumberSchema, value)[0]?.message).toContain(hex(dash));
          if (/\p{Dash}/u.test(dash)) expect(messagesOf(serialNumberSchema, value)[0]?.message).toContain('not read as "-"');
        }
      }),
    );
  });

  it('project names: a look-alike is refused, or the same key (and, when NFKC maps it back, the same ID)', () => {
    const pairs = fc.tuple(fieldsArb, fc.boolean(), fc.boolean()).chain(([fields, compatibilityOnly, invisibles]) =>
      fc.tuple(
        fc.constant(fields),
        fc.constant(compatibilityOnly),
        variantOf(fields.projectName, { compatibilityOnly, invisibles }).map((projectName) => ({ ...fields, projectName })),
      ),
    );
    fc.assert(
      fc.property(pairs, ([fields, compatibilityOnly, variant]) => {
        const parsed = createCreditInput.safeParse(variant);
        if (!parsed.success) {
          for (const issue of parsed.error.issues) expect(issue.path).toEqual(['projectName']);
          return;
        }
        // Prose may mix scripts, so "Kаsigau" with a Cyrillic "а" is another name and another ID;
        // the (registry, serial) key is what keeps it from being another credit.
        expect(identityOf(parsed.data).key).toEqual(identityOf(fields).key);
        if (compatibilityOnly) expect(identityOf(parsed.data).id).toBe(identityOf(fields).id);
      }),
      { numRuns: 500 },
    );
  });
});

describe('what the identifier schemas can output', () => {
  const identifierSchemas = [
    ['registry', registrySchema],
    ['serialNumber', serialNumberSchema],
  ] as const;

  it.each(identifierSchemas)('%s: only allowed ASCII, NFKC-stable, whatever was sent', (_, schema) => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }), (s) => {
        const parsed = schema.safeParse(s);
        if (!parsed.success) return;
        expect(parsed.data).toMatch(IDENTIFIER_OUTPUT);
        expect(schema.parse(parsed.data)).toBe(parsed.data);
      }),
      { numRuns: 2000 },
    );
  });

  // Every BMP code point, plus every supplementary one NFKC maps into the allowed set.
  const candidates = (() => {
    const out: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      if (cp <= 0xffff || [...c.normalize('NFKC')].every((x) => IDENTIFIER_OUTPUT.test(x))) out.push(c);
    }
    return out;
  })();

  it('serialNumber accepts a character exactly when NFKC makes it allowed ASCII, and stores that', () => {
    const wrong: string[] = [];
    for (const c of candidates) {
      const nfkc = c.normalize('NFKC');
      const allowed = [...nfkc].every((x) => IDENTIFIER_OUTPUT.test(x));
      const parsed = serialNumberSchema.safeParse(`S${c}1`);
      const expected = `S${nfkc}1`;
      if (parsed.success !== allowed || (parsed.success && parsed.data !== expected)) wrong.push(hex(c));
    }
    expect(wrong).toEqual([]);
  });

  it('projectName output is NFKC and free of control, format and invisible characters', () => {
    const refused = /[\p{Cc}\p{Cf}\p{Cs}\p{Cn}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}\u2800]/u;
    const wrong: string[] = [];
    for (const c of candidates) {
      if ((c.codePointAt(0) ?? 0) > 0xffff) continue;
      const parsed = projectNameSchema.safeParse(`a${c}b`);
      if (parsed.success === refused.test(c)) wrong.push(`${hex(c)} ${parsed.success ? 'accepted' : 'refused'}`);
      else if (parsed.success && (parsed.data !== parsed.data.normalize('NFKC') || refused.test(parsed.data))) wrong.push(hex(c));
    }
    expect(wrong).toEqual([]);
  });
});

describe('project names stay Unicode', () => {
  it.each([
    ['Ｋａｓｉｇａｕ Ｃｏｒｒｉｄｏｒ', 'Kasigau Corridor'],
    ['Reserva Ñandú', 'Reserva Ñandú'],
    ['Cafe\u0301 de Altura', 'Café de Altura'],
    ['塞罕坝机械林场造林碳汇', '塞罕坝机械林场造林碳汇'],
    ['Лесной проект № 7', 'Лесной проект No 7'],
    ['\ufb01eld Ⅳ', 'field IV'],
    ['Kasigau\u00a0Corridor', 'Kasigau Corridor'],
    ['🌳 Forest 😀', '🌳 Forest 😀'],
  ])('%j is NFKC-normalised to %j', (input, expected) => {
    expect(projectNameSchema.parse(input)).toBe(expected);
  });

  it.each([
    ['Kasigau\u200bCorridor', 'U+200B (ZERO WIDTH SPACE) at character 8'],
    ['\u202eKasigau', 'U+202E (RIGHT-TO-LEFT OVERRIDE) at character 1'],
    ['Kasigau\u2066Corridor\u2069', 'U+2066 (LEFT-TO-RIGHT ISOLATE) at character 8'],
    ['Kasi\u00adgau', 'U+00AD (SOFT HYPHEN) at character 5'],
    ['Kasigau\u2060', 'U+2060 (WORD JOINER) at character 8'],
    ['Kasigau\ufeffCorridor', 'U+FEFF (ZERO WIDTH NO-BREAK SPACE) at character 8'],
    ['Kasigau\u2028Corridor', 'U+2028 (LINE SEPARATOR) at character 8'],
    ['Kasigau \u3164', 'U+3164 (HANGUL FILLER) at character 9'],
    ['👨\u200d👩\u200d👧 Forest', 'U+200D (ZERO WIDTH JOINER) at character 2'],
    ['❤\ufe0f Forest', 'U+FE0F (VARIATION SELECTOR-16) at character 2'],
    ['Forest\u{e0001}', 'U+E0001 at character 7'],
  ])('%j is refused, naming the code point', (input, found) => {
    expect(messagesOf(projectNameSchema, input)).toEqual([
      { path: [], message: `projectName must not contain invisible, format or bidirectional control characters (found ${found})` },
    ]);
  });

  it('a project name in another script is another ID, but the same (registry, serial) key, so the store answers CONFLICT', () => {
    const latin = createCreditInput.parse(base);
    const cyrillicA = createCreditInput.parse({ ...base, projectName: 'K\u0430sigau Corridor REDD+' });
    expect(identityOf(cyrillicA).id).not.toBe(identityOf(latin).id);
    expect(identityOf(cyrillicA).key).toEqual(identityOf(latin).key);
  });

  it('the length limit counts the normalised name', () => {
    expect(projectNameSchema.parse('\u3377'.repeat(100))).toBe('dm'.repeat(100));
    expect(messagesOf(projectNameSchema, '\u3377'.repeat(101))).toEqual([
      { path: [], message: 'projectName must be at most 200 characters, got 202' },
    ]);
  });
});

describe('beneficiary and reason are prose: invisible characters refused, nothing normalised', () => {
  it.each([
    ['beneficiary', beneficiarySchema],
    ['reason', retirementReasonSchema],
  ] as const)('%s', (field, schema) => {
    const refusal = `${field} must not contain invisible, format or bidirectional control characters`;
    expect(schema.parse('Ａｃｍｅ № 5')).toBe('Ａｃｍｅ № 5');
    expect(messagesOf(schema, 'Acme\u200b Ltd')).toEqual([
      { path: [], message: `${refusal} (found U+200B (ZERO WIDTH SPACE) at character 5)` },
    ]);
    expect(messagesOf(schema, '\u202eAcme').map((i) => i.message)).toEqual([
      `${refusal} (found U+202E (RIGHT-TO-LEFT OVERRIDE) at character 1)`,
    ]);
  });
});

describe('the list filter normalises registry and project name the same way', () => {
  it('a full-width registry filters as its ASCII form', () => {
    expect(listCreditsInput.parse({ registry: 'Ｖｅｒｒａ', projectName: 'Ｋａｓｉｇａｕ' })).toMatchObject({
      registry: 'Verra',
      projectName: 'Kasigau',
    });
  });

  it('a registry with an invisible character is refused, naming registry', () => {
    expect(messagesOf(listCreditsInput, { registry: 'Ver\u200bra' })).toEqual([
      { path: ['registry'], message: `registry must not contain U+200B (ZERO WIDTH SPACE) at character 4; ${ALLOWED}` },
    ]);
  });
});
