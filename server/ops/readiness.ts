import type { Orm } from '../db/orm.js';
import { migrationsList } from '../db/mikro-orm.config.js';
import { withTimeout } from '../queue/with-timeout.js';

/*
 * What /readyz answers, for the API and the worker alike: ready only when
 * PostgreSQL and Redis answer and every migration this code knows is applied
 * (an instance running ahead of the schema must not take traffic). Each check
 * is bounded by `timeoutMs`, so a hung dependency still gets an answer, and
 * the checks run at once, so the probe answers within about that time.
 */

export type CheckResult = { ok: true } | { ok: false; error: string; pending?: string[] };
export type Readiness = { status: 'ready' | 'not ready'; missing: string[]; checks: Record<string, CheckResult> };

export type ReadinessDeps = {
  orm: Orm;
  /** PING on a connection of this process (the queue producer's). */
  pingRedis: () => Promise<unknown>;
  timeoutMs: number;
  /** More checks of the process itself, e.g. the worker's: null when fine, else what is wrong. */
  more?: Record<string, () => string | null>;
};

/** The SQL states that mean PostgreSQL answered but the migrations table is missing or closed to this role. */
const NO_MIGRATIONS_TABLE = '42P01';
const NOT_ALLOWED = '42501';

export async function checkReadiness(deps: ReadinessDeps): Promise<Readiness> {
  const [database, redis] = await Promise.all([checkDatabase(deps), check(() => deps.pingRedis(), deps.timeoutMs, 'Redis')]);
  const checks: Record<string, CheckResult> = { ...database, redis };
  for (const [name, problem] of Object.entries(deps.more ?? {})) {
    const error = problem();
    checks[name] = error === null ? { ok: true } : { ok: false, error };
  }
  const missing = Object.entries(checks).flatMap(([name, result]) => (result.ok ? [] : [name]));
  return { status: missing.length === 0 ? 'ready' : 'not ready', missing, checks };
}

async function check(probe: () => Promise<unknown>, timeoutMs: number, what: string): Promise<CheckResult> {
  try {
    await withTimeout(probe(), timeoutMs, what);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: describe(err, what, timeoutMs) };
  }
}

/** One query answers both: PostgreSQL is reachable, and which migrations it has applied. */
async function checkDatabase(deps: ReadinessDeps): Promise<{ postgres: CheckResult; migrations: CheckResult }> {
  const expected = migrationsList.map((m) => m.name);
  try {
    const rows = await withTimeout(
      deps.orm.em.getConnection().execute<{ name: string }[]>('select name from mikro_orm_migrations'),
      deps.timeoutMs,
      'PostgreSQL',
    );
    // MikroORM stores names without a file extension; strip one in case an older version wrote it.
    const applied = new Set(rows.map((r) => r.name.replace(/\.[jt]s$/, '')));
    const pending = expected.filter((name) => !applied.has(name));
    return {
      postgres: { ok: true },
      migrations: pending.length === 0 ? { ok: true } : { ok: false, error: `${pending.length} migration(s) not applied: run npm run migrate`, pending },
    };
  } catch (err) {
    const code = sqlState(err);
    if (code === NO_MIGRATIONS_TABLE) {
      return { postgres: { ok: true }, migrations: { ok: false, error: 'no migration applied: run npm run migrate', pending: expected } };
    }
    if (code === NOT_ALLOWED) {
      // Migration20261202000000_readiness grants it; before that one is applied, the schema is behind this code.
      return { postgres: { ok: true }, migrations: { ok: false, error: 'this role may not read mikro_orm_migrations yet: run npm run migrate' } };
    }
    const error = describe(err, 'PostgreSQL', deps.timeoutMs);
    return { postgres: { ok: false, error }, migrations: { ok: false, error: 'unknown: PostgreSQL did not answer' } };
  }
}

function sqlState(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * In our words, for an unauthenticated probe: whether it timed out or was
 * refused, and the driver's error code, never its message (which may name
 * hosts, roles or SQL).
 */
function describe(err: unknown, what: string, timeoutMs: number): string {
  if (err instanceof Error && err.message === `${what} timed out after ${timeoutMs} ms`) return `did not answer within ${timeoutMs} ms`;
  const code = sqlState(err);
  return code ? `unreachable (${code})` : 'unreachable';
}
