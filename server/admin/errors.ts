/**
 * Exit codes of `npm run admin`, the same for every command:
 *   0  success
 *   1  the command ran and found failures (bad import rows, ledger inconsistencies, failed jobs…)
 *   2  usage or configuration error, or a service (API, PostgreSQL, Redis) could not be reached or refused the key
 * 130  interrupted (Ctrl-C); an import can be re-run to resume
 */
export const EXIT = { ok: 0, failures: 1, usage: 2, interrupted: 130 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports as one line and turns into its exit code; no stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.usage,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const errorMessage = (err: unknown): string => {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(errorMessage).join('; ');
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const code = (err as { code?: unknown }).code;
    const own = err.message || (typeof code === 'string' ? code : err.name);
    if (!(cause instanceof Error)) return own;
    const inner = errorMessage(cause);
    // Wrappers often repeat their cause's message ("fetch failed" over "fetch failed"): say each part once.
    return own.includes(inner) ? own : inner.startsWith(own) ? inner : `${own}: ${inner}`;
  }
  return String(err);
};
