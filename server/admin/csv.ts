/**
 * A streaming RFC 4180 CSV reader and a field writer, because no CSV package
 * is installed. Records end at CRLF or LF (a lone CR is kept as data); fields
 * may be quoted, quoted fields may hold commas, line breaks and doubled
 * quotes. A malformed record is reported with its line number and reading
 * carries on with the next record, so one bad row never hides the rest.
 */

export type CsvRecord =
  | { line: number; fields: string[]; error?: undefined }
  /** `line` is where the record starts (1 = the file's first line). */
  | { line: number; fields?: undefined; error: string };

const enum State {
  /** At the start of a field. */
  FieldStart,
  /** Inside an unquoted field. */
  Unquoted,
  /** Inside a quoted field. */
  Quoted,
  /** Just after a quote inside a quoted field: end of field, or the first half of "". */
  QuoteInQuoted,
  /** After a syntax error: skip to the end of the physical line. */
  SkipLine,
}

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;

export class CsvParser {
  private state = State.FieldStart;
  private field = '';
  private fields: string[] = [];
  private line = 1;
  private recordLine = 1;
  private error: string | null = null;
  /** A CR seen at the very end of a chunk: it may be the first half of CRLF. */
  private pendingCr = false;
  private started = false;

  /** Parses a chunk of text and returns the records it completed. */
  push(chunk: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    let text = chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.pendingCr) {
      this.pendingCr = false;
      text = `\r${text}`;
    }
    const n = text.length;
    let i = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      switch (this.state) {
        case State.FieldStart:
        case State.Unquoted: {
          if (c === QUOTE && this.state === State.FieldStart) {
            this.state = State.Quoted;
            i++;
            break;
          }
          // Fast path: take everything up to the next special character at once.
          let j = i;
          while (j < n) {
            const d = text.charCodeAt(j);
            if (d === COMMA || d === LF || d === CR || d === QUOTE) break;
            j++;
          }
          if (j > i) {
            this.field += text.slice(i, j);
            this.state = State.Unquoted;
            i = j;
            break;
          }
          const next = this.separator(text, i, out, () => {
            this.field += '\r';
            this.state = State.Unquoted;
          });
          if (next !== null) {
            i = next;
          } else {
            // A quote inside an unquoted field.
            this.fail('quote inside an unquoted field (quote the whole field and double the quotes inside it)');
            i++;
          }
          break;
        }
        case State.Quoted: {
          const q = text.indexOf('"', i);
          const end = q === -1 ? n : q;
          const piece = text.slice(i, end);
          this.field += piece;
          this.countLines(piece);
          if (q === -1) {
            i = n;
          } else {
            this.state = State.QuoteInQuoted;
            i = q + 1;
          }
          break;
        }
        case State.QuoteInQuoted: {
          if (c === QUOTE) {
            this.field += '"';
            this.state = State.Quoted;
            i++;
          } else {
            const next = this.separator(text, i, out, () => this.fail('unexpected character after a closing quote'));
            if (next !== null) {
              i = next;
              break;
            }
            this.fail('unexpected character after a closing quote');
            i++;
          }
          break;
        }
        case State.SkipLine: {
          const nl = text.indexOf('\n', i);
          if (nl === -1) {
            i = n;
          } else {
            i = nl + 1;
            this.finishLine(out);
          }
          break;
        }
      }
    }
    return out;
  }

  /** Call once the input is exhausted: returns the last record, if any. */
  end(): CsvRecord[] {
    const out: CsvRecord[] = [];
    if (this.pendingCr) {
      // A final lone CR ends the last record, as a final LF would (only set outside quotes).
      this.pendingCr = false;
      this.endRecord(out);
      return out;
    }
    if (this.state === State.Quoted) {
      out.push({ line: this.recordLine, error: 'quoted field is never closed' });
      this.reset();
    } else if (this.state === State.SkipLine) {
      this.finishLine(out);
    } else if (this.state !== State.FieldStart || this.fields.length > 0) {
      this.endRecord(out);
    }
    return out;
  }

  /**
   * Handles a comma, LF or CRLF that ends a field at text[i] and returns where
   * to go on, or null when text[i] is none of them. A CR that is not part of
   * CRLF means different things in different states, so the caller says what.
   * A CR at the very end of a chunk waits for the next one.
   */
  private separator(text: string, i: number, out: CsvRecord[], loneCr: () => void): number | null {
    const c = text.charCodeAt(i);
    if (c === COMMA) {
      this.endField();
      return i + 1;
    }
    if (c === LF) {
      this.endRecord(out);
      return i + 1;
    }
    if (c !== CR) return null;
    if (i + 1 === text.length) {
      this.pendingCr = true;
      return i + 1;
    }
    if (text.charCodeAt(i + 1) === LF) {
      this.endRecord(out);
      return i + 2;
    }
    loneCr();
    return i + 1;
  }

  private countLines(s: string) {
    let k = s.indexOf('\n');
    while (k !== -1) {
      this.line++;
      k = s.indexOf('\n', k + 1);
    }
  }

  private endField() {
    this.fields.push(this.field);
    this.field = '';
    this.state = State.FieldStart;
  }

  private endRecord(out: CsvRecord[]) {
    this.endField();
    const fields = this.fields;
    // A blank line is no record (a lone empty field); it only advances the count.
    if (!(fields.length === 1 && fields[0] === '')) out.push({ line: this.recordLine, fields });
    this.line++;
    this.reset();
  }

  private fail(message: string) {
    this.error = message;
    this.state = State.SkipLine;
  }

  private finishLine(out: CsvRecord[]) {
    out.push({ line: this.recordLine, error: this.error ?? 'malformed record' });
    this.line++;
    this.reset();
  }

  private reset() {
    this.fields = [];
    this.field = '';
    this.error = null;
    this.state = State.FieldStart;
    this.recordLine = this.line;
  }
}

/**
 * Records of a byte stream, each with roughly how many bytes of the input it
 * ends at (spread evenly over the records of a chunk), for progress bars.
 */
export async function* readCsv(source: AsyncIterable<Buffer | string>): AsyncGenerator<CsvRecord & { bytesRead: number }> {
  const parser = new CsvParser();
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let bytesRead = 0;
  for await (const chunk of source) {
    let text: string;
    let size: number;
    if (typeof chunk === 'string') {
      text = chunk;
      size = Buffer.byteLength(chunk);
    } else {
      text = decoder.decode(chunk, { stream: true });
      size = chunk.length;
    }
    const records = parser.push(text);
    for (let i = 0; i < records.length; i++) {
      yield { ...(records[i] as CsvRecord), bytesRead: bytesRead + Math.round((size * (i + 1)) / records.length) };
    }
    bytesRead += size;
  }
  const tail = decoder.decode();
  const records = tail ? parser.push(tail) : [];
  records.push(...parser.end());
  for (const record of records) yield { ...record, bytesRead };
}

/** One CSV field: quoted only when it must be (comma, quote, CR or LF inside, or surrounding spaces). */
export function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const s = String(value);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const csvLine = (values: (string | number | null | undefined)[]): string => `${values.map(csvField).join(',')}\r\n`;
