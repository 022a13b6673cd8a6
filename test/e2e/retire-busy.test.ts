import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerError } from '../../client/index.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createCredits, eventCount, openE2eDb } from '../helpers/retirement-e2e.js';

/*
 * A credit whose row lock is held elsewhere (here by the test itself) must
 * cost a retire caller one retryable error, not tie up the API's pool.
 */
let app: TestApp;
let db: Pool;

beforeAll(async () => {
  app = await startTestApp({ DB_LOCK_TIMEOUT_MS: '300' });
  db = openE2eDb(app.databaseUrl, 4);
});
afterAll(async () => {
  await db.end();
  await app.close();
});

describe('retire while the credit is locked', () => {
  it('answers BUSY within the lock timeout, writes nothing, and other credits stay served', async () => {
    const [locked, other] = await createCredits(app.admin, 2);
    if (!locked || !other) throw new Error('credits not created');
    const holder = await db.connect();
    try {
      await holder.query('begin');
      await holder.query('select id from credits where id = $1 for update', [locked]);
      const before = await eventCount(db);

      // More concurrent callers than the API has pooled connections.
      const calls = Array.from({ length: 15 }, () =>
        app.admin.credits.retire.mutate({ id: locked, beneficiary: 'Acme' }).then(
          () => null,
          (err: unknown) => ledgerError(err),
        ),
      );
      const started = Date.now();
      const otherCredit = await app.admin.credits.get.query({ id: other });
      expect(otherCredit.credit.id).toBe(other);
      const errors = await Promise.all(calls);
      expect(Date.now() - started).toBeLessThan(15_000);
      for (const e of errors) {
        expect(e?.kind).toBe('BUSY');
        expect(e && 'domainCode' in e ? e.domainCode : undefined).toBe('CREDIT_BUSY');
      }
      expect(await eventCount(db)).toBe(before);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    // Once the lock is gone the same call succeeds.
    const ok = await app.admin.credits.retire.mutate({ id: locked, beneficiary: 'Acme' });
    expect(ok.deduplicated).toBe(false);
  });
});
