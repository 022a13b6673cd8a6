/**
 * Credit quantities are exact decimals. They are validated and canonicalised as
 * text so a value like "0.1" never passes through a binary float.
 *
 * Accepted string form (after trimming surrounding whitespace):
 *   digits, optionally followed by "." and at least one digit: `10`, `10.000`, `007.50`, `0.5`.
 * A dot needs digits on both sides (`.5` and `5.` are rejected), the same
 * grammar as a JSON number, so there is exactly one way to spell the fraction
 * mark. Signs, exponents, hex, thousands separators and non-ASCII digits are
 * rejected.
 *
 * Canonical form: integer part without leading zeros (but at least "0"),
 * fraction without trailing zeros, no dot when the fraction is empty:
 * "10.000" → "10", "007.50" → "7.5", "0.500" → "0.5".
 *
 * Limits apply to the value, not the spelling: > 0, ≤ 1e12, at most 6
 * significant decimal places ("1.5000000" is 1.5 and is accepted).
 */

const MAX_DECIMALS = 6;
/** 1e12, written out so the comparison below stays textual. */
const MAX_VALUE = '1000000000000';
/** Bounds the work done on hostile input; generous for any real spelling. */
const MAX_INPUT_LENGTH = 64;
/** Any decimal with at most this many significant digits survives a round trip through a double (DBL_DIG). */
const MAX_EXACT_NUMBER_DIGITS = 15;

const DECIMAL = /^([0-9]+)(?:\.([0-9]+))?$/;

const FORMAT_MESSAGE =
  'quantity must be a plain decimal number such as "10" or "0.5": digits, optionally a "." followed by digits ' +
  '(no sign, exponent, hex, thousands separator, or bare leading/trailing ".")';

/** Returns the canonical decimal string for a quantity, or throws an Error saying why it is not one. */
export function canonicalQuantity(input: string | number): string {
  if (typeof input === 'string') return fromString(input);
  if (typeof input === 'number') return fromNumber(input);
  throw new Error('quantity must be a string or a number');
}

function fromString(raw: string): string {
  const text = raw.trim();
  if (text === '') throw new Error('quantity must not be empty');
  if (text.length > MAX_INPUT_LENGTH) throw new Error(`quantity must be at most ${MAX_INPUT_LENGTH} characters long`);

  const match = DECIMAL.exec(text);
  if (!match) {
    if (text.startsWith('-') && DECIMAL.test(text.slice(1))) throw new Error('quantity must be greater than 0');
    throw new Error(FORMAT_MESSAGE);
  }
  const integer = (match[1] ?? '').replace(/^0+(?=[0-9])/, '');
  const fraction = (match[2] ?? '').replace(/0+$/, '');

  if (fraction.length > MAX_DECIMALS) {
    throw new Error(`quantity must have at most ${MAX_DECIMALS} decimal places, got ${fraction.length}`);
  }
  if (integer === '0' && fraction === '') throw new Error('quantity must be greater than 0');
  // Equal-length digit strings compare like the numbers they spell.
  const exceedsMax =
    integer.length > MAX_VALUE.length ||
    (integer.length === MAX_VALUE.length && (integer > MAX_VALUE || (integer === MAX_VALUE && fraction !== '')));
  if (exceedsMax) throw new Error(`quantity must be at most ${MAX_VALUE}`);

  return fraction === '' ? integer : `${integer}.${fraction}`;
}

/**
 * A number has already been through a double (typically JSON.parse), so the
 * best available spelling is its shortest round-trip form, String(n). That form
 * is trusted only when it has at most 15 significant digits: below that, every
 * decimal maps to a distinct double, so String(n) is exactly what the sender
 * wrote. Longer values (e.g. 123456789012.123456) were silently rounded on the
 * way in and must be sent as strings.
 */
function fromNumber(n: number): string {
  if (!Number.isFinite(n)) throw new Error('quantity must be a finite number');
  if (n <= 0) throw new Error('quantity must be greater than 0');
  if (n > Number(MAX_VALUE)) throw new Error(`quantity must be at most ${MAX_VALUE}`);

  const shortest = String(n);
  // In (0, 1e12] String() only switches to exponent form below 1e-6, i.e. for
  // values with more than 6 decimals.
  if (/e/i.test(shortest)) {
    throw new Error(`quantity must have at most ${MAX_DECIMALS} decimal places, got the number ${shortest}`);
  }
  const fraction = shortest.split('.')[1] ?? '';
  if (fraction.length > MAX_DECIMALS) {
    throw new Error(
      `quantity must have at most ${MAX_DECIMALS} decimal places, got the number ${shortest}; ` +
        'send quantity as a decimal string to avoid floating-point rounding',
    );
  }
  const significant = shortest.replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  if (significant.length > MAX_EXACT_NUMBER_DIGITS) {
    throw new Error(
      `quantity ${shortest} has more than ${MAX_EXACT_NUMBER_DIGITS} significant digits, ` +
        'which a number cannot carry exactly; send it as a decimal string',
    );
  }
  return fromString(shortest);
}

/*
 * Arithmetic on canonical quantities, exact: as integers of millionths (the
 * finest quantity allowed), which stay below 2^63 for any sum of valid ones.
 */

const SCALE = 10n ** BigInt(MAX_DECIMALS);

function toMicro(q: string): bigint {
  const [integer = '0', fraction = ''] = q.split('.');
  return BigInt(integer) * SCALE + BigInt(fraction.padEnd(MAX_DECIMALS, '0'));
}

function fromMicro(micro: bigint): string {
  const sign = micro < 0n ? '-' : '';
  const abs = micro < 0n ? -micro : micro;
  const integer = (abs / SCALE).toString();
  const fraction = (abs % SCALE).toString().padStart(MAX_DECIMALS, '0').replace(/0+$/, '');
  return `${sign}${fraction === '' ? integer : `${integer}.${fraction}`}`;
}

/** a − b, canonical (may be "0" or negative: callers compare first). */
export const subtractQuantity = (a: string, b: string): string => fromMicro(toMicro(a) - toMicro(b));

export const addQuantities = (...qs: string[]): string => fromMicro(qs.reduce((sum, q) => sum + toMicro(q), 0n));

/** -1, 0 or 1 as a <, = or > b. */
export function compareQuantity(a: string, b: string): -1 | 0 | 1 {
  const d = toMicro(a) - toMicro(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** Whether the quantity is a whole number (a count of units). */
export const isWholeQuantity = (q: string): boolean => !q.includes('.');
