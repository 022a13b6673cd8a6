/**
 * A row as the API shows it: every Date as an ISO-8601 string (a nullable
 * one as string or null), internal columns left out. Distributes over unions, so an event's `type`/`data`
 * pairing survives.
 */
export type JsonView<T> = T extends unknown
  ? { [K in keyof T]-?: T[K] extends Date ? string : T[K] extends Date | null | undefined ? string | null : T[K] }
  : never;

/** `Omit` would merge a union into one object type, so it is applied only when something is hidden. */
type Shown<T, K extends keyof T> = [K] extends [never] ? JsonView<T> : JsonView<Omit<T, K>>;

export function jsonView<T extends object, K extends keyof T = never>(row: T, hidden: readonly K[] = []): Shown<T, K> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if ((hidden as readonly string[]).includes(key)) continue;
    out[key] = value instanceof Date ? value.toISOString() : value;
  }
  return out as Shown<T, K>;
}
