import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readCsv } from '../csv.js';
import { CliError, errorMessage } from '../errors.js';

const CSV_COLUMNS = ['projectName', 'registry', 'vintage', 'quantity', 'serialNumber'] as const;
/** A block's units, both or neither: they become the item's unitRange {first, last}. */
const UNIT_COLUMNS = ['unitFirst', 'unitLast'] as const;
const KNOWN_COLUMNS: readonly string[] = [...CSV_COLUMNS, ...UNIT_COLUMNS];

/** One data row (CSV record or JSON array item). */
export type InputRow = {
  /** 1-based index among data rows: what the checkpoint counts. */
  ordinal: number;
  /** What a person looks up: the CSV line where the record starts (1 = header), or the 1-based JSON item number. */
  row: number;
  item?: unknown;
  /** A problem found before sending (malformed CSV, wrong number of fields). */
  error?: string;
  /** Progress measure when this row is done: bytes read (CSV) or items (JSON). */
  done: number;
};

export type SourceFormat = 'csv' | 'json';

type Source = { format: SourceFormat; total: number; rows: AsyncIterable<InputRow> | Iterable<InputRow> };

/** The rows of a .csv (streamed) or .json (read whole) file; `total` is in the unit of InputRow.done. */
export async function openSource(file: string, size: number): Promise<Source> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return { format: 'csv', total: size, rows: csvRows(file) };
  if (ext === '.json') return jsonSource(file);
  throw new CliError(`${file}: expected a .csv or .json file`);
}

async function* csvRows(file: string): AsyncGenerator<InputRow> {
  let columns: string[] | null = null;
  let ordinal = 0;
  for await (const record of readCsv(createReadStream(file, { highWaterMark: 256 * 1024 }))) {
    if (!columns) {
      if (record.error !== undefined) throw new CliError(`${file}: the header (line ${record.line}) is malformed: ${record.error}`);
      columns = checkHeader(file, record.fields);
      continue;
    }
    ordinal++;
    const base = { ordinal, row: record.line, done: record.bytesRead };
    if (record.error !== undefined) {
      yield { ...base, error: `malformed CSV: ${record.error}` };
    } else if (record.fields.length !== columns.length) {
      yield { ...base, error: `expected ${columns.length} fields (${columns.join(',')}), got ${record.fields.length}` };
    } else {
      const item: Record<string, unknown> = {};
      const units: Record<string, string> = {};
      columns.forEach((name, i) => {
        const value = record.fields[i] ?? '';
        if (name === 'vintage') {
          const v = wholeNumberOf(value);
          if (v !== undefined) item[name] = v;
        } else if (name === 'unitFirst' || name === 'unitLast') {
          units[name] = value;
        } else {
          item[name] = value;
        }
      });
      const unitRange = unitRangeOf(units.unitFirst ?? '', units.unitLast ?? '');
      if (typeof unitRange === 'string') yield { ...base, error: unitRange };
      else yield { ...base, item: unitRange ? { ...item, unitRange } : item };
    }
  }
  if (!columns) throw new CliError(`${file} is empty: expected the header ${CSV_COLUMNS.join(',')}`);
}

function checkHeader(file: string, fields: string[]): string[] {
  const names = fields.map((f) => f.trim());
  const unknown = names.filter((n) => !KNOWN_COLUMNS.includes(n));
  const missing: string[] = CSV_COLUMNS.filter((c) => !names.includes(c));
  const unitColumns = UNIT_COLUMNS.filter((c) => names.includes(c));
  if (unitColumns.length === 1) missing.push(...UNIT_COLUMNS.filter((c) => !names.includes(c)).map((c) => `${c} (unitFirst and unitLast go together)`));
  const repeated = names.filter((n, i) => names.indexOf(n) !== i);
  if (unknown.length > 0 || missing.length > 0 || repeated.length > 0) {
    const problems = [
      ...(missing.length ? [`missing ${missing.join(', ')}`] : []),
      ...(unknown.length ? [`unknown ${unknown.map((u) => JSON.stringify(u)).join(', ')}`] : []),
      ...(repeated.length ? [`repeated ${repeated.join(', ')}`] : []),
    ];
    throw new CliError(
      `${file}: bad CSV header (${problems.join('; ')}); expected the columns ${CSV_COLUMNS.join(',')} in any order, and optionally ${UNIT_COLUMNS.join(',')}`,
    );
  }
  return names;
}

/** A whole number becomes a number; anything else goes as written, for the API to explain. */
function wholeNumberOf(text: string, maxDigits = 9): unknown {
  const t = text.trim();
  if (t === '') return undefined;
  return new RegExp(`^[+-]?\\d{1,${maxDigits}}$`).test(t) ? Number(t) : text;
}

/**
 * The unitRange of a row with unitFirst and unitLast columns: both empty is
 * none (an amount-only credit, or units read from the serial), both given is
 * {first, last}, one without the other is the row's error (a string).
 */
function unitRangeOf(first: string, last: string): { first: unknown; last: unknown } | null | string {
  // Up to 16 digits: every unit number the API accepts (at most 2^53 - 1), and a little more for it to refuse.
  const f = wholeNumberOf(first, 16);
  const l = wholeNumberOf(last, 16);
  if (f === undefined && l === undefined) return null;
  if (f === undefined || l === undefined) return `unitFirst and unitLast must both be given or both be empty, got ${f === undefined ? 'only unitLast' : 'only unitFirst'}`;
  return { first: f, last: l };
}

async function jsonSource(file: string): Promise<Source> {
  let items: unknown;
  try {
    items = JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (err) {
    throw new CliError(`${file} is not valid JSON: ${errorMessage(err)}`);
  }
  if (!Array.isArray(items)) throw new CliError(`${file}: expected a JSON array of credit objects`);
  const list: unknown[] = items;
  function* rows(): Generator<InputRow> {
    for (let i = 0; i < list.length; i++) {
      yield { ordinal: i + 1, row: i + 1, item: list[i], done: i + 1 };
      // The array is in memory anyway; let go of what has been sent.
      list[i] = undefined;
    }
  }
  return { format: 'json', total: list.length, rows: rows() };
}
