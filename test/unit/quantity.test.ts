import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalQuantity } from '../../server/credits/quantity.js';

const MICROS_PER_UNIT = 1_000_000n;
const MAX_MICROS = 1_000_000_000_000n * MICROS_PER_UNIT;

/** Exact decimal spelling of an amount of millionths, padded to 6 decimals. */
const fromMicros = (micros: bigint): string =>
  `${micros / MICROS_PER_UNIT}.${(micros % MICROS_PER_UNIT).toString().padStart(6, '0')}`;

const toMicros = (canonical: string): bigint => {
  const [integer = '', fraction = ''] = canonical.split('.');
  return BigInt(integer) * MICROS_PER_UNIT + BigInt(fraction.padEnd(6, '0'));
};

const validMicros = fc.bigInt({ min: 1n, max: MAX_MICROS });

/** Non-canonical but valid spellings of the same value: leading zeros, trailing zeros, padding. */
const spelling = (micros: bigint) =>
  fc
    .record({
      leadingZeros: fc.nat({ max: 5 }),
      trailingZeros: fc.nat({ max: 5 }),
      pad: fc.constantFrom('', ' ', '\t', '\n', '\u00a0', '  '),
    })
    .map(({ leadingZeros, trailingZeros, pad }) => `${pad}${'0'.repeat(leadingZeros)}${fromMicros(micros)}${'0'.repeat(trailingZeros)}${pad}`);

describe('canonicalQuantity accepts', () => {
  it.each([
    ['10', '10'],
    ['10.0', '10'],
    ['10.000', '10'],
    ['007.50', '7.5'],
    ['0.5', '0.5'],
    ['0.000001', '0.000001'],
    ['1.5000000000', '1.5'],
    ['  42  ', '42'],
    ['\t3.25\n', '3.25'],
    ['1000000000000', '1000000000000'],
    ['1000000000000.000', '1000000000000'],
    ['999999999999.999999', '999999999999.999999'],
    ['0001', '1'],
  ])('string %j → %j', (input, expected) => {
    expect(canonicalQuantity(input)).toBe(expected);
  });

  it.each([
    [10, '10'],
    [0.1, '0.1'],
    [0.5, '0.5'],
    [1e-6, '0.000001'],
    [123.456789, '123.456789'],
    [1e12, '1000000000000'],
    [999999999.999999, '999999999.999999'],
  ])('number %d → %j', (input, expected) => {
    expect(canonicalQuantity(input)).toBe(expected);
  });
});

describe('canonicalQuantity rejects', () => {
  it.each([
    ['', /must not be empty/],
    ['   ', /must not be empty/],
    ['0', /greater than 0/],
    ['0.000', /greater than 0/],
    ['-1', /greater than 0/],
    ['-0.5', /greater than 0/],
    ['+1', /plain decimal number/],
    ['.5', /plain decimal number/],
    ['5.', /plain decimal number/],
    ['1e3', /plain decimal number/],
    ['1E3', /plain decimal number/],
    ['0x10', /plain decimal number/],
    ['1,000', /plain decimal number/],
    ['1 000', /plain decimal number/],
    ['1_000', /plain decimal number/],
    ['1.2.3', /plain decimal number/],
    ['NaN', /plain decimal number/],
    ['Infinity', /plain decimal number/],
    ['١٢', /plain decimal number/],
    ['１０', /plain decimal number/],
    ['0.0000001', /at most 6 decimal places, got 7/],
    ['1.1234567', /at most 6 decimal places/],
    ['1000000000000.000001', /at most 1000000000000/],
    ['1000000000001', /at most 1000000000000/],
    ['99999999999999', /at most 1000000000000/],
    ['1'.repeat(65), /at most 64 characters/],
  ])('string %j (%s)', (input, message) => {
    expect(() => canonicalQuantity(input)).toThrow(message);
  });

  it.each([
    [0, /greater than 0/],
    [-0, /greater than 0/],
    [-1, /greater than 0/],
    [Number.NaN, /finite/],
    [Number.POSITIVE_INFINITY, /finite/],
    [1e12 + 1, /at most 1000000000000/],
    [1e21, /at most 1000000000000/],
    [1e-7, /at most 6 decimal places/],
    [0.1 + 0.2, /at most 6 decimal places.*0\.30000000000000004.*decimal string/],
    [1.1234567, /at most 6 decimal places/],
    [123456789012.12346, /significant digits.*decimal string/],
  ])('number %d (%s)', (input, message) => {
    expect(() => canonicalQuantity(input)).toThrow(message);
  });

  it.each([[null], [undefined], [10n], [{}], [['1']]])('non-string, non-number %s', (input) => {
    expect(() => canonicalQuantity(input as never)).toThrow(/string or a number/);
  });

  it('throws plain Errors that name the quantity', () => {
    expect(() => canonicalQuantity('x')).toThrow(Error);
    expect(() => canonicalQuantity('x')).toThrow(/^quantity /);
  });
});

describe('canonicalQuantity properties', () => {
  it('maps every spelling of a value to the same exact value', () => {
    fc.assert(
      fc.property(validMicros.chain((micros) => fc.tuple(fc.constant(micros), spelling(micros))), ([micros, input]) => {
        expect(toMicros(canonicalQuantity(input))).toBe(micros);
      }),
    );
  });

  it('is idempotent, and the canonical form is a fixed point', () => {
    fc.assert(
      fc.property(validMicros.chain(spelling), (input) => {
        const canonical = canonicalQuantity(input);
        expect(canonicalQuantity(canonical)).toBe(canonical);
        expect(canonical).toMatch(/^(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$/);
      }),
    );
  });

  it('spellings of different values stay different', () => {
    fc.assert(
      fc.property(validMicros, validMicros, (a, b) => {
        fc.pre(a !== b);
        expect(canonicalQuantity(fromMicros(a))).not.toBe(canonicalQuantity(fromMicros(b)));
      }),
    );
  });

  it('a number agrees with the string it was parsed from when it has at most 15 significant digits', () => {
    const upTo15Digits = fc
      .record({ digits: fc.bigInt({ min: 1n, max: 10n ** 15n - 1n }), scale: fc.integer({ min: 0, max: 6 }) })
      .filter(({ digits, scale }) => digits <= 10n ** BigInt(12 + scale))
      .map(({ digits, scale }) => {
        const padded = digits.toString().padStart(scale + 1, '0');
        return scale === 0 ? padded : `${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
      });
    fc.assert(
      fc.property(upTo15Digits, (s) => {
        expect(canonicalQuantity(Number(s))).toBe(canonicalQuantity(s));
      }),
    );
  });

  it('accepts every whole number in range as itself', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e12 }), (n) => {
        expect(canonicalQuantity(n)).toBe(String(n));
      }),
    );
  });
});
