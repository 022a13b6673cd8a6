/**
 * The last pass over every log line (logger.ts), after serialisation: wherever
 * a secret ended up — an error message, a library's error object, a URL — it
 * is replaced before the line is written. Known secrets (the configured keys
 * and passwords) go in every form a line may hold them: as given, URL-encoded
 * and JSON-escaped. Shapes catch the secrets nobody configured here: API keys
 * created later, bearer and basic credentials, passwords inside URLs.
 */

export const REDACTED = '[REDACTED]';

const SHAPES: [RegExp, string][] = [
  // scheme://user:password@host — keep the user, drop the password.
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@"]*:)[^@\s"/]+@/gi, `$1${REDACTED}@`],
  // The ledger's own keys (auth/api-keys.ts generateKey).
  [/\bccl_[A-Za-z0-9_-]{16,}/g, `ccl_${REDACTED}`],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
];

const jsonEscaped = (s: string) => JSON.stringify(s).slice(1, -1);

function forms(secret: string): string[] {
  return [...new Set([secret, encodeURIComponent(secret), jsonEscaped(secret), jsonEscaped(encodeURIComponent(secret))])];
}

/** A function that scrubs `secrets` (and the shapes above) from a serialised log line. */
export function secretScrubber(secrets: readonly string[]): (line: string) => string {
  // Longest first, so a secret containing another is replaced whole.
  const known = [...new Set(secrets.filter((s) => s.length > 0).flatMap(forms))].sort((a, b) => b.length - a.length);
  return (line) => {
    let out = line;
    for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    for (const [shape, replacement] of SHAPES) out = out.replace(shape, replacement);
    return out;
  };
}
