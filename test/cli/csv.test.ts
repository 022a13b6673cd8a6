import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvParser, csvLine, readCsv, type CsvRecord } from '../../server/admin/csv.js';

/** Parses text fed in the given chunk sizes (cycled), as a stream would deliver it. */
function parse(text: string, chunkSizes: number[] = [text.length || 1]): CsvRecord[] {
  const parser = new CsvParser();
  const out: CsvRecord[] = [];
  let i = 0;
  let k = 0;
  while (i < text.length) {
    const size = Math.max(1, chunkSizes[k++ % chunkSizes.length] ?? 1);
    out.push(...parser.push(text.slice(i, i + size)));
    i += size;
  }
  out.push(...parser.end());
  return out;
}

describe('CsvParser (RFC 4180)', () => {
  it('reads plain, quoted and empty fields with their line numbers', () => {
    expect(parse('a,b,c\n1,"two, quoted",\n"",x,"say ""hi"""\n')).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', 'two, quoted', ''] },
      { line: 3, fields: ['', 'x', 'say "hi"'] },
    ]);
  });

  it('accepts CRLF and LF, a missing final newline, and a UTF-8 BOM', () => {
    expect(parse('\uFEFFh1,h2\r\nv1,v2\nv3,v4')).toEqual([
      { line: 1, fields: ['h1', 'h2'] },
      { line: 2, fields: ['v1', 'v2'] },
      { line: 3, fields: ['v3', 'v4'] },
    ]);
  });

  it('keeps line breaks inside quoted fields and numbers records by their first line', () => {
    expect(parse('h\n"one\r\ntwo\nthree",x\nnext\n')).toEqual([
      { line: 1, fields: ['h'] },
      { line: 2, fields: ['one\r\ntwo\nthree', 'x'] },
      { line: 5, fields: ['next'] },
    ]);
  });

  it('skips blank lines but still counts them', () => {
    expect(parse('a\n\n\nb\n\n')).toEqual([
      { line: 1, fields: ['a'] },
      { line: 4, fields: ['b'] },
    ]);
  });

  it('reports a malformed record with its line and carries on with the next one', () => {
    expect(parse('ok,1\nbro"ken,2\n"closed"junk,3\nfine,4\n"never closed,5\nlost,6\n')).toEqual([
      { line: 1, fields: ['ok', '1'] },
      { line: 2, error: expect.stringContaining('quote inside an unquoted field') as unknown },
      { line: 3, error: expect.stringContaining('after a closing quote') as unknown },
      { line: 4, fields: ['fine', '4'] },
      { line: 5, error: 'quoted field is never closed' },
    ]);
  });

  it('gives the same records however the input is split, CRLF across chunks included', () => {
    const text = 'h1,h2\r\n"a\r\nb","c,""d"""\r\ne,f\r\n"g"\r\n';
    const whole = parse(text);
    for (let size = 1; size <= text.length; size++) expect(parse(text, [size])).toEqual(whole);
  });

  it('round-trips any fields written with csvLine, in any chunking (property)', () => {
    const field = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', ',', '"', '\n', '\r', 'é', '😀', '0'), maxLength: 12 });
    const record = fc.array(field, { minLength: 2, maxLength: 5 });
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }), (records, chunks) => {
        const text = records.map((r) => csvLine(r)).join('');
        const parsed = parse(text, chunks);
        expect(parsed.map((r) => r.fields)).toEqual(records);
        expect(parsed.every((r) => r.error === undefined)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('readCsv decodes UTF-8 split across byte chunks and reports growing byte offsets', async () => {
    const text = 'name,qty\n"Café ""Ñandú""",1\nÅland 😀,2\n';
    const bytes = Buffer.from(text, 'utf8');
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 3) chunks.push(bytes.subarray(i, i + 3));
    const records = [];
    for await (const r of readCsv(Readable.from(chunks))) records.push(r);
    expect(records.map((r) => r.fields)).toEqual([
      ['name', 'qty'],
      ['Café "Ñandú"', '1'],
      ['Åland 😀', '2'],
    ]);
    const offsets = records.map((r) => r.bytesRead);
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
    expect(offsets.at(-1)).toBe(bytes.length);
  });
});
