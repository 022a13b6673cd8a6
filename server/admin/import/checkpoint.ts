import { readFile, rename, writeFile } from 'node:fs/promises';
import { errorMessage } from '../errors.js';
import type { Output } from '../output.js';
import type { Counts } from './summary.js';

/** `<file>.import-state.json`: how far an interrupted import got, so the same command resumes after it. */
export type Checkpoint = {
  version: 1;
  file: string;
  size: number;
  mtimeMs: number;
  /** Every row up to this data-row ordinal has been answered by the API. */
  lastOrdinal: number;
  /** …which is this row number (CSV line / JSON item). */
  lastRow: number;
  /** Totals over every run that contributed to this checkpoint. */
  counts: Counts;
  updatedAt: string;
};

export const checkpointFileOf = (file: string): string => `${file}.import-state.json`;

/** The checkpoint of this very file (same path, size and mtime), or null; anything else is ignored with a warning. */
export async function readCheckpoint(
  checkpointFile: string,
  file: string,
  info: { size: number; mtimeMs: number },
  out: Output,
): Promise<Checkpoint | null> {
  let text: string;
  try {
    text = await readFile(checkpointFile, 'utf8');
  } catch {
    return null;
  }
  try {
    const cp = JSON.parse(text) as Partial<Checkpoint>;
    if (cp.version !== 1 || typeof cp.lastOrdinal !== 'number' || typeof cp.lastRow !== 'number' || !cp.counts) throw new Error('unknown format');
    if (cp.file !== file || cp.size !== info.size || cp.mtimeMs !== info.mtimeMs) {
      out.warn(`${checkpointFile} belongs to another version of the file; starting from the first row`);
      return null;
    }
    return cp as Checkpoint;
  } catch (err) {
    out.warn(`ignoring ${checkpointFile}: ${errorMessage(err)}; starting from the first row`);
    return null;
  }
}

/** Writes checkpoints one after the other (never two at once), each replacing the file whole; a failed write is a warning. */
export class CheckpointWriter {
  private saving: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly out: Output,
  ) {}

  save(cp: Checkpoint): void {
    this.saving = this.saving.then(() => writeCheckpoint(this.file, cp)).catch((err: unknown) => this.out.warn(`could not write ${this.file}: ${errorMessage(err)}`));
  }

  /** Resolves once every save so far has been written (or has failed). */
  flushed(): Promise<void> {
    return this.saving;
  }
}

async function writeCheckpoint(file: string, cp: Checkpoint): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(cp, null, 2)}\n`);
  await rename(tmp, file);
}
