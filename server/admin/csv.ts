/**
 * CSV for the admin script: a reader on top of csv-parse, and a field writer.
 *
 * csv-parse does the parsing (RFC 4180: records end at CRLF or LF, a lone CR
 * is data; quoted fields may hold commas, line breaks and doubled quotes).
 * What this module adds is what an import needs: every record carries the
 * line where it starts (1 = the file's first line; a quoted field spanning
 * lines counts its start line), and a malformed record is reported with that
 * line while reading goes on at the line after the fault, so one bad row never
 * hides the rest.
 *
 * That is why the input is parsed a run of whole lines at a time with
 * csv-parse/sync rather than through its stream with skip_records_with_error:
 * after a character that follows a closing quote, the stream goes on reading
 * as if still inside the quotes, and the good rows after the bad one vanish
 * into it. A fresh parse can start again wherever we say.
 */
import { CsvError, parse, type CsvErrorCode } from 'csv-parse/sync';

export type CsvRecord =
  | { line: number; fields: string[]; error?: undefined }
  /** `line` is where the record starts (1 = the file's first line). */
  | { line: number; fields?: undefined; error: string };

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const NOT_CLOSED: CsvErrorCode = 'CSV_QUOTE_NOT_CLOSED';

const MESSAGES: Partial<Record<CsvErrorCode, string>> = {
  INVALID_OPENING_QUOTE: 'quote inside an unquoted field (quote the whole field and double the quotes inside it)',
  CSV_INVALID_CLOSING_QUOTE: 'unexpected character after a closing quote',
  CSV_QUOTE_NOT_CLOSED: 'quoted field is never closed',
};

const messageOf = (err: CsvError): string => MESSAGES[err.code] ?? err.message;

type Parsed = {
  /** `end`: offset just past the record's line break; `blanks`: blank lines skipped before it. */
  records: { fields: string[]; end: number; blanks: number }[];
  /** The first malformed record: parsing stopped there. */
  error?: CsvError;
  /** Blank lines skipped before the malformed record. */
  errorBlanks: number;
  /**
   * The fault is on the line where the malformed record starts, by
   * csv-parse's line count, which goes up at every CR or LF: when it has not
   * moved since the record started, there is no line break in between.
   */
  faultOnStartLine: boolean;
};

/** Parses `text` as a complete input: the records before the first malformed one, and its error. */
function parseWhole(text: Uint8Array, bom: boolean): Parsed {
  const records: Parsed['records'] = [];
  let emptyLines = 0;
  /** csv-parse's line count at the last record's line break (0: no record yet). */
  let lastLines = 0;
  try {
    parse(text, {
      bom,
      record_delimiter: ['\r\n', '\n'],
      // The caller checks the number of fields, to say which row has how many.
      relax_column_count: true,
      skip_empty_lines: true,
      on_record: (fields, info) => {
        records.push({ fields, end: info.bytes, blanks: info.empty_lines - emptyLines });
        emptyLines = info.empty_lines;
        lastLines = info.lines;
        return null;
      },
    });
    return { records, errorBlanks: 0, faultOnStartLine: false };
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    const errorBlanks = (typeof err.empty_lines === 'number' ? err.empty_lines : emptyLines) - emptyLines;
    // Each blank line, and the previous record's line break, add one.
    const startLines = (lastLines === 0 ? 1 : lastLines + 1) + errorBlanks;
    return { records, error: err, errorBlanks, faultOnStartLine: err.lines === startLines };
  }
}

/** Offset just past the n-th LF at or after `from`, or the end. */
function afterLines(bytes: Uint8Array, from: number, n: number): number {
  let at = from;
  for (let i = 0; i < n; i++) {
    const lf = bytes.indexOf(LF, at);
    if (lf === -1) return bytes.length;
    at = lf + 1;
  }
  return at;
}

function countLf(bytes: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let i = bytes.indexOf(LF, from); i !== -1 && i < to; i = bytes.indexOf(LF, i + 1)) n++;
  return n;
}

/**
 * Where reading goes on after the malformed record at the start of `text`:
 * after the line on which the fault is. A record spans lines only inside
 * quotes, so every run of its lines that stops short of the fault ends with a
 * quote still open; the fault's line is the first that fails otherwise.
 * Searched by doubling, then halving: a bad record is nearly always one line.
 */
function afterFaultyLine(text: Uint8Array, bom: boolean): number {
  const ends: number[] = [];
  /** Offset just past line n (0-based) of `text`, or its end. */
  const endOf = (n: number): number => {
    while (ends.length <= n) {
      const from = ends.at(-1) ?? 0;
      if (from >= text.length) return text.length;
      const lf = text.indexOf(LF, from);
      ends.push(lf === -1 ? text.length : lf + 1);
    }
    return ends[n] ?? text.length;
  };
  const faulty = (n: number): boolean => {
    const { error } = parseWhole(text.subarray(0, endOf(n)), bom);
    return error !== undefined && error.code !== NOT_CLOSED;
  };
  let lo = 0;
  let hi = 0;
  while (!faulty(hi)) {
    if (endOf(hi) >= text.length) return text.length;
    lo = hi + 1;
    hi = hi * 2 + 1;
  }
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (faulty(mid)) hi = mid;
    else lo = mid + 1;
  }
  return endOf(lo);
}

export class CsvParser {
  /** Input not parsed yet; it starts at the start of a line. */
  private pending: Buffer = Buffer.alloc(0);
  /** The line number of pending's first byte. */
  private line = 1;
  /** pending starts at the start of the input, where a UTF-8 BOM may be. */
  private atStart = true;
  /** The last character of a string chunk when it is the first half of a surrogate pair. */
  private highSurrogate = '';
  /**
   * While a quoted field in pending waits for more input: how far pending
   * has been read with it still open. Only a quote after that can close it,
   * so pending is parsed again only once one has come.
   */
  private quoteOpenUpTo: number | null = null;

  /** Parses a chunk of input and returns the records it completed. */
  push(chunk: string | Uint8Array): CsvRecord[] {
    this.pending = Buffer.concat([this.pending, this.bytesOf(chunk)]);
    if (this.quoteOpenUpTo !== null) {
      if (this.pending.indexOf(QUOTE, this.quoteOpenUpTo) === -1) {
        this.quoteOpenUpTo = this.pending.length;
        return [];
      }
      this.quoteOpenUpTo = null;
    }
    // Only whole lines: a record can only end at an LF, or at the end of the input.
    const upTo = this.pending.lastIndexOf(LF) + 1;
    return upTo === 0 ? [] : this.parseUpTo(upTo, false);
  }

  /** Call once the input is exhausted: returns the last records, if any. */
  end(): CsvRecord[] {
    if (this.highSurrogate) {
      this.pending = Buffer.concat([this.pending, Buffer.from(this.highSurrogate)]);
      this.highSurrogate = '';
    }
    this.quoteOpenUpTo = null;
    // A CR that ends the input ends its last record, as an LF there would.
    if (this.pending.at(-1) === CR) this.pending = Buffer.concat([this.pending, Buffer.of(LF)]);
    return this.parseUpTo(this.pending.length, true);
  }

  private bytesOf(chunk: string | Uint8Array): Uint8Array {
    if (typeof chunk !== 'string') return chunk;
    let text = this.highSurrogate + chunk;
    this.highSurrogate = '';
    const last = text.charCodeAt(text.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.highSurrogate = text.slice(-1);
      text = text.slice(0, -1);
    }
    return Buffer.from(text, 'utf8');
  }

  /** Parses pending[0, limit), which ends at a line break unless `final`, and keeps what must wait for more input. */
  private parseUpTo(limit: number, final: boolean): CsvRecord[] {
    const out: CsvRecord[] = [];
    let pos = 0;
    while (pos < limit) {
      const bom = this.atStart && pos === 0;
      const text = this.pending.subarray(pos, limit);
      const { records, error, errorBlanks, faultOnStartLine } = parseWhole(text, bom);
      // Offset in text up to which this.line counts the lines.
      let at = 0;
      for (const r of records) {
        const line = this.line + r.blanks;
        this.line += countLf(text, at, r.end);
        at = r.end;
        // A lone empty field ("" on a line of its own) is no record, as a blank line is none.
        if (!(r.fields.length === 1 && r.fields[0] === '')) out.push({ line, fields: r.fields });
      }
      if (!error) {
        this.line += countLf(text, at, text.length);
        pos = limit;
        break;
      }
      const line = this.line + errorBlanks;
      if (error.code === NOT_CLOSED && !final) {
        // The quote may close on a later line: parse this record again once more has come.
        pos += at;
        this.quoteOpenUpTo = limit - pos;
        break;
      }
      out.push({ line, error: messageOf(error) });
      // An unclosed quote takes everything to the end; any other fault, the rest of its line.
      const next =
        error.code === NOT_CLOSED
          ? text.length
          : faultOnStartLine
            ? afterLines(text, at, errorBlanks + 1)
            : at + afterFaultyLine(text.subarray(at), bom && at === 0);
      this.line += countLf(text, at, next);
      pos += next;
    }
    if (pos > 0) this.atStart = false;
    this.pending = this.pending.subarray(pos);
    return out;
  }
}

/**
 * Records of a byte stream, each with roughly how many bytes of the input it
 * ends at (spread evenly over the records of a chunk), for progress bars.
 */
export async function* readCsv(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<CsvRecord & { bytesRead: number }> {
  const parser = new CsvParser();
  let bytesRead = 0;
  for await (const chunk of source) {
    const size = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    const records = parser.push(chunk);
    for (let i = 0; i < records.length; i++) {
      yield { ...(records[i] as CsvRecord), bytesRead: bytesRead + Math.round((size * (i + 1)) / records.length) };
    }
    bytesRead += size;
  }
  for (const record of parser.end()) yield { ...record, bytesRead };
}

/** One CSV field: quoted only when it must be (comma, quote, CR or LF inside, or surrounding spaces). */
function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const s = String(value);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const csvLine = (values: (string | number | null | undefined)[]): string => `${values.map(csvField).join(',')}\r\n`;
