import closeWithGrace from 'close-with-grace';
import type { Logger } from './logger.js';

/**
 * How every long-running process of the ledger stops: on SIGTERM or SIGINT
 * (or an uncaught error) it logs `stopping`, runs `close` once and exits 0
 * (1 after an error); a second signal, or `close` running past `graceMs`,
 * exits 1 at once. With `signals: false` the process leaves signals to its
 * supervisor and stops when told through the returned `stop` instead.
 */
export function closeOnSignal(
  logger: Logger,
  opts: { graceMs: number; stopping: string; signals?: boolean },
  close: () => Promise<void>,
): { stop: () => void } {
  const { close: stop } = closeWithGrace(
    {
      delay: opts.graceMs,
      logger: { error: (msg: unknown) => logger.error(msg) },
      ...(opts.signals === false ? { skip: ['SIGTERM', 'SIGINT', 'SIGHUP'] as const } : {}),
    },
    async ({ signal, err, manual }) => {
      if (err) logger.error({ err }, 'uncaught error: shutting down');
      else logger.info({ signal: signal ?? (manual ? 'told to stop' : undefined) }, opts.stopping);
      await close();
    },
  );
  return { stop };
}
