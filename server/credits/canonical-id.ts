import { createHash } from 'node:crypto';
import type { CreditFields } from './events.js';
import { canonicalQuantity } from './quantity.js';

/*
 * Credit ID rule (version cc-v1)
 *
 * 1. Text fields (registry, projectName, serialNumber) are canonicalised:
 *    Unicode NFC; trim; every run of whitespace (JavaScript `\s`) becomes one
 *    U+0020; full case fold as toUpperCase() then toLowerCase() then NFC,
 *    applied twice; text containing unassigned code points or unpaired
 *    surrogates is refused.
 * 2. quantity is the canonical decimal string ("10.000" → "10"); vintage stays
 *    an integer.
 * 3. The ID is "cc_" + lowercase hex SHA-256 of the UTF-8 bytes of
 *    JSON.stringify(["cc-v1", registry, projectName, vintage, quantity, serialNumber])
 *    as ECMAScript produces it: no whitespace, non-ASCII left as raw UTF-8.
 *    JSON string encoding makes the tuple unambiguous, since no field content
 *    can imitate a field boundary.
 *
 * Any change to this rule must bump "cc-v1", or existing IDs stop matching.
 *
 * The rule hashes whatever fields it is given. Deciding which spellings are
 * the same credit beyond case and whitespace is the input schemas' job
 * (credit.schema.ts), done before this rule sees a field: registry and
 * serialNumber are NFKC-normalised and must then be ASCII letters, digits,
 * space and - . _ / : + (so look-alike and invisible characters are refused,
 * not hashed); projectName is NFKC-normalised with format and invisible
 * characters refused. That keeps this rule unchanged, so credits stored
 * before those checks existed still verify with the same IDs.
 */

const CREDIT_ID_VERSION = 'cc-v1';

export type CanonicalForm =
  | readonly [version: typeof CREDIT_ID_VERSION, registry: string, projectName: string, vintage: number, quantity: string, serialNumber: string]
  | readonly [
      version: typeof CREDIT_ID_VERSION,
      registry: string,
      projectName: string,
      vintage: number,
      quantity: string,
      serialNumber: string,
      units: readonly [first: number, last: number],
    ];

// Unicode's stability policy freezes NFC for assigned characters, and case
// mappings of assigned characters are stable in practice (the known past
// changes, Cherokee in Unicode 8 and Georgian in 11, predate Node 20's ICU; the
// golden tests in canonical-id.test.ts would flag a new one). A code point
// assigned in a later Unicode can gain a case mapping or a composition, which
// would give the same text a different ID after a Node upgrade, so such text
// is refused, not hashed. Unpaired surrogates are refused as well: they
// cannot be stored as UTF-8.
const UNSTABLE_CODE_POINT = /[\p{Cn}\p{Cs}]/u;

/**
 * Locale-independent on purpose: toUpperCase/toLowerCase use the Unicode
 * default mappings, never the host locale (unlike toLocale*Case), so a
 * Turkish-locale server computes the same IDs as any other.
 * Upper-then-lower is what makes "ß", "SS" and "ss" agree, the way full case
 * folding does. A second pass is needed for U+1E9E "ẞ", which lowercases to
 * "ß" and only reaches "ss" on the next round; an exhaustive check over every
 * assigned code point finds that two passes always reach a fixed point.
 * Known merges beyond CaseFolding.txt: dotless "ı" folds with "i".
 */
function foldCase(s: string): string {
  const once = (t: string) => t.toUpperCase().toLowerCase().normalize('NFC');
  return once(once(s));
}

export function canonicalText(s: string): string {
  const unstable = UNSTABLE_CODE_POINT.exec(s);
  if (unstable) {
    const codePoint = unstable[0].codePointAt(0) ?? 0;
    throw new Error(
      `text contains U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}, ` +
        'an unassigned code point or unpaired surrogate, which has no stable canonical form',
    );
  }
  return foldCase(s.normalize('NFC').trim().replace(/\s+/g, ' '));
}

/** Registry and serial together are the credit's natural unique key; compare them in this form. */
export const canonicalRegistry = (registry: string): string => canonicalText(registry);
export const canonicalSerial = (serialNumber: string): string => canonicalText(serialNumber);

export function canonicalForm(fields: CreditFields): CanonicalForm {
  if (!Number.isSafeInteger(fields.vintage)) throw new Error(`vintage must be an integer, got ${fields.vintage}`);
  const form: CanonicalForm = [
    CREDIT_ID_VERSION,
    canonicalRegistry(fields.registry),
    canonicalText(fields.projectName),
    fields.vintage,
    canonicalQuantity(fields.quantity),
    canonicalSerial(fields.serialNumber),
  ];
  // Units given beside a serial that does not spell them are part of what the credit is.
  return fields.unitRange ? [...form, [fields.unitRange.first, fields.unitRange.last]] : form;
}

export function creditId(fields: CreditFields): string {
  const digest = createHash('sha256').update(JSON.stringify(canonicalForm(fields)), 'utf8').digest('hex');
  return `cc_${digest}`;
}

/**
 * The ID of the credit a split carves off `parentId` for `requestId`: the same
 * request always names the same part, so repeating it finds that part.
 * JSON.stringify(["cc-split-v1", parentId, requestId]), SHA-256, "cc_" + hex.
 */
export function splitChildId(parentId: string, requestId: string): string {
  return `cc_${createHash('sha256').update(JSON.stringify(['cc-split-v1', parentId, requestId]), 'utf8').digest('hex')}`;
}
