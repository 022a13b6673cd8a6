import { describe, expect, it } from 'vitest';
import { createLogger } from '../../server/logger.js';
import { isSafeRequestId, requestIdFrom } from '../../server/ops/request-id.js';
import { REDACTED } from '../../server/ops/redaction.js';
import { LogCapture } from '../helpers/log-lines.js';

/*
 * The logger every process uses (server/logger.ts), writing real JSON lines:
 * whatever a line holds — an error message, an object a library hung on an
 * error, a header — the configured secrets and anything shaped like a
 * credential are gone before it is written.
 */

const ADMIN_KEY = 'admin-key-0123456789abcdefghij';
const PG_PASSWORD = 'pg"pa:ss/wo\\rd';
const REDIS_PASSWORD = 'redis-secret-4242';

function logger() {
  const out = new LogCapture();
  const log = createLogger('test', 'trace', { secrets: [ADMIN_KEY, PG_PASSWORD, REDIS_PASSWORD], destination: out });
  return { log, out };
}

describe('secrets never reach a log line', () => {
  it('configured secrets, in an error message, in an error property a library added, and URL-encoded in a URL', () => {
    const { log, out } = logger();
    // ioredis keeps AUTH's arguments on its ReplyError.
    const authError = Object.assign(new Error('WRONGPASS invalid username-password pair'), { command: { name: 'auth', args: [REDIS_PASSWORD] } });
    log.error({ err: authError }, 'redis connection error');
    log.warn({ err: new Error(`connect failed for postgres://ledger_app:${encodeURIComponent(PG_PASSWORD)}@db:5432/ledger`) }, 'database');
    log.info({ config: { password: PG_PASSWORD, adminKey: ADMIN_KEY } }, `starting with ${ADMIN_KEY}`);
    expect(out.lines()).toHaveLength(3);
    for (const secret of [ADMIN_KEY, PG_PASSWORD, REDIS_PASSWORD, encodeURIComponent(PG_PASSWORD), JSON.stringify(PG_PASSWORD).slice(1, -1)]) {
      expect(out.text).not.toContain(secret);
    }
    expect(out.lines()[0]).toMatchObject({ err: { command: { args: [REDACTED] } } });
    expect(out.lines()[1]?.err).toMatchObject({ message: `connect failed for postgres://ledger_app:${REDACTED}@db:5432/ledger` });
  });

  it('secrets nobody configured: keys the API created, bearer and basic credentials, passwords in any URL', () => {
    const { log, out } = logger();
    const createdKey = 'ccl_sFTENDY4dmYtmkAHdwkT5s_v3j_wZ8XoCEltUBeKcHQ';
    log.info({ note: `key ${createdKey} created` }, 'x');
    log.info({ header: 'Bearer someone-elses-token-value' }, 'y');
    log.info({ header: `Basic ${Buffer.from('u:p4ssw0rd-value').toString('base64')}` }, 'z');
    log.info('connecting to redis://default:hunter2hunter2@cache.internal:6379/0 and amqp://u:pw@h');
    expect(out.text).not.toContain(createdKey.slice(4));
    expect(out.text).not.toContain('someone-elses-token-value');
    expect(out.text).not.toContain(Buffer.from('u:p4ssw0rd-value').toString('base64'));
    expect(out.text).not.toContain('hunter2hunter2');
    expect(out.text).not.toMatch(/amqp:\/\/u:pw@/);
    expect(out.text).toContain(`redis://default:${REDACTED}@cache.internal:6379/0`);
  });

  it('credential headers are removed by path', () => {
    const { log, out } = logger();
    log.info({ req: { headers: { authorization: 'Token abc', 'x-api-key': 'k-123', cookie: 'session=1', 'user-agent': 'curl' } } }, 'request');
    const [line] = out.lines();
    expect(line?.req).toEqual({ headers: { authorization: REDACTED, 'x-api-key': REDACTED, cookie: REDACTED, 'user-agent': 'curl' } });
  });

  it('leaves ordinary lines alone', () => {
    const { log, out } = logger();
    log.info({ creditId: 'cc_0123', url: 'http://127.0.0.1:3000/trpc' }, 'ledger API listening on http://127.0.0.1:3000/trpc');
    expect(out.lines()[0]).toMatchObject({ creditId: 'cc_0123', url: 'http://127.0.0.1:3000/trpc', msg: 'ledger API listening on http://127.0.0.1:3000/trpc' });
  });
});

describe('request IDs', () => {
  it("keeps a caller's ID made of safe characters, up to 128 of them", () => {
    for (const id of ['abc', '4bf92f3577b34da6a3ce929d0e0e4736', 'req-1.2_3:4', 'x'.repeat(128)]) expect(requestIdFrom(id)).toBe(id);
  });

  it('replaces anything else with a UUID of its own', () => {
    for (const bad of [undefined, '', 'x'.repeat(129), 'a b', 'line\nbreak', '<script>', 'ü', ['a', 'b']]) {
      const id = requestIdFrom(bad);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(isSafeRequestId(id)).toBe(true);
    }
  });
});
