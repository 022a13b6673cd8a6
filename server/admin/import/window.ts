import { CliError, EXIT } from '../errors.js';
import type { CreateManyResult } from './send.js';
import type { InputRow } from './sources.js';

/** What became of one row: the API's answer, or the problem found before sending it. */
export type Outcome = CreateManyResult | { outcome: 'local'; message: string };

type BatchAnswer = { kind: 'ok'; outcomes: Outcome[] } | { kind: 'failed'; error: CliError };

type WindowOptions = {
  /** Batches in flight at once. */
  concurrency: number;
  /** Sends the items of one batch; the answers come back in the same order. */
  send: (items: unknown[]) => Promise<CreateManyResult[]>;
  /** How a failure of `send` is reported. */
  failure: (err: unknown) => CliError;
  /** Called for each answered batch, strictly in the order the batches were dispatched. */
  onAnswered: (rows: readonly InputRow[], outcomes: Outcome[]) => void;
};

class Batch {
  answer: BatchAnswer | null = null;
  settled: Promise<void> = Promise.resolve();

  constructor(readonly rows: readonly InputRow[]) {}

  start(opts: WindowOptions): Promise<void> {
    const toSend = this.rows.filter((r) => r.error === undefined);
    this.settled = opts
      .send(toSend.map((r) => r.item))
      .then((results) => {
        const byRow = new Map(toSend.map((r, i) => [r, results[i]]));
        this.answer = {
          kind: 'ok',
          outcomes: this.rows.map((r): Outcome => {
            if (r.error !== undefined) return { outcome: 'local', message: r.error };
            const result = byRow.get(r);
            if (!result) throw new CliError(`the API gave no answer for row ${r.row}`, EXIT.usage);
            return result;
          }),
        };
      })
      .catch((err: unknown) => {
        this.answer = { kind: 'failed', error: err instanceof CliError ? err : opts.failure(err) };
      });
    return this.settled;
  }
}

/**
 * Batches in flight, answered in any order and handed on in the order they
 * were sent, so whatever is counted (and checkpointed) from the answers only
 * ever covers rows that all have their answer. The first failed batch stops
 * everything: later batches may be answered, but are never handed on.
 */
export class BatchWindow {
  /** Sent and not yet handed on, oldest first. */
  private readonly window: Batch[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failed: CliError | null = null;

  constructor(private readonly opts: WindowOptions) {}

  /** The failure that stopped the import, once a batch has failed. */
  get fatal(): CliError | null {
    return this.failed;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Sends a batch, then waits until there is room for the next one. */
  async dispatch(rows: readonly InputRow[]): Promise<void> {
    const batch = new Batch(rows);
    this.window.push(batch);
    const settled = batch.start(this.opts).finally(() => {
      this.inFlight.delete(settled);
      this.applyFinished();
    });
    this.inFlight.add(settled);
    // Answered batches behind an unanswered one keep their slot, which bounds memory.
    while (this.window.length >= this.opts.concurrency && !this.failed) await Promise.race(this.window.filter((b) => !b.answer).map((b) => b.settled));
  }

  /** Waits for every batch in flight and hands on what can be. */
  async drain(): Promise<void> {
    await Promise.all([...this.inFlight]);
    this.applyFinished();
  }

  private applyFinished(): void {
    while (this.window[0]?.answer) {
      const batch = this.window.shift() as Batch;
      const answer = batch.answer as BatchAnswer;
      if (answer.kind === 'failed') {
        this.failed ??= answer.error;
        // Later batches may be done, but nothing after this one may be counted.
        this.window.length = 0;
        return;
      }
      this.opts.onAnswered(batch.rows, answer.outcomes);
    }
  }
}
