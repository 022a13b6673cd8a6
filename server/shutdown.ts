import closeWithGrace from 'close-with-grace';
import type { Logger } from './logger.js';

/**
 * How every long-running process of the ledger stops: on SIGTERM or SIGINT
 * (or an uncaught error) it logs `stopping`, runs `close` once and exits 0
 * (1 after an error); a second signal, or `close` running past `graceMs`,
 * exits 1 at once.
 */
export function closeOnSignal(logger: Logger, opts: { graceMs: number; stopping: string }, close: () => Promise<void>): void {
  closeWithGrace({ delay: opts.graceMs, logger: { error: (msg: unknown) => logger.error(msg) } }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'uncaught error: shutting down');
    else logger.info({ signal }, opts.stopping);
    await close();
  });
}
