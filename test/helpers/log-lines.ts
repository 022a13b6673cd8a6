import { Writable } from 'node:stream';

export type LogLine = Record<string, unknown> & { msg?: string; requestId?: string; level?: number };

/**
 * Collects what a logger writes, as the raw text (for "this never appears"
 * checks) and as parsed JSON lines (for "this line carries that field").
 */
export class LogCapture extends Writable {
  text = '';

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }

  lines(): LogLine[] {
    return parseLogLines(this.text);
  }
}

/** Every line of `text` that is a JSON object; anything else (a stack trace on stderr) is skipped. */
export function parseLogLines(text: string): LogLine[] {
  return text.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });
}
