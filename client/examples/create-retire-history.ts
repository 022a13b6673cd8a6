/**
 * Creates a credit, retires it and waits for the worker to finish, then
 * prints the credit's history.
 *
 *   LEDGER_URL=http://127.0.0.1:3000 LEDGER_API_KEY=... node --import tsx client/examples/create-retire-history.ts
 *
 * The key needs the create, retire and read rights (an admin key has them).
 * Optional: LEDGER_TIMEOUT_MS, how long to wait for the retirement (default 60000).
 * Exits 0 once the credit is retired, 1 on any failure, 2 when misconfigured.
 */
import { randomUUID } from 'node:crypto';
import { createLedgerClient, ledgerError, type CreditHistoryEvent } from '../index.js';
import { retireAndWait } from '../retire-and-wait.js';

function config() {
  const url = process.env.LEDGER_URL;
  const apiKey = process.env.LEDGER_API_KEY;
  const timeoutMs = Number(process.env.LEDGER_TIMEOUT_MS ?? 60_000);
  if (!url || !apiKey) throw new ConfigError('set LEDGER_URL (e.g. http://127.0.0.1:3000) and LEDGER_API_KEY');
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new ConfigError('LEDGER_TIMEOUT_MS must be a positive whole number of milliseconds');
  return { url, apiKey, timeoutMs };
}

class ConfigError extends Error {}

/** `data` differs by event type; show it as `field=value` pairs. */
const describeData = (e: CreditHistoryEvent): string =>
  Object.entries(e.data)
    .map(([field, value]) => `${field}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');

async function main(): Promise<void> {
  const { url, apiKey, timeoutMs } = config();
  const client = createLedgerClient({ url, apiKey });

  // A fresh serial each run: creating is idempotent, so a fixed one would find the credit already retired.
  const { credit, created } = await client.credits.create.mutate({
    projectName: 'Example Forest Restoration',
    registry: 'Verra',
    vintage: new Date().getUTCFullYear() - 1,
    quantity: '250.5',
    serialNumber: `EXAMPLE-${randomUUID()}`,
  });
  console.log(`${created ? 'created' : 'found existing'} credit ${credit.id}: ${credit.quantity} t, status ${credit.status}`);

  const beneficiary = 'Example Co.';
  console.log(`retiring for ${beneficiary}, waiting up to ${timeoutMs} ms for the worker...`);
  const outcome = await retireAndWait(client, credit.id, { beneficiary, reason: 'example offset' }, { timeoutMs });
  if (outcome.timedOut) {
    throw new Error(`not retired within ${timeoutMs} ms (last status: ${outcome.status}); the request stays queued and will complete later`);
  }
  if (outcome.status !== 'retired') {
    throw new Error(`retirement ${outcome.status} after ${outcome.attempts} attempt(s): ${outcome.failedReason ?? 'no reason given'}`);
  }
  console.log(`retired at ${outcome.retiredAt ?? '?'} after ${outcome.attempts} attempt(s)`);

  const { events } = await client.credits.get.query({ id: credit.id });
  console.log(`history of ${credit.id} (${events.length} events):`);
  for (const e of events) {
    console.log(`  v${e.version}  ${e.occurredAt}  ${e.type.padEnd(20)}  by ${e.actor}  ${describeData(e)}`);
  }
}

try {
  await main();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`configuration: ${err.message}`);
    process.exitCode = 2;
  } else {
    const e = ledgerError(err);
    console.error(`failed (${e.kind}): ${e.message}`);
    if (e.kind === 'BAD_REQUEST') for (const issue of e.issues) console.error(`  ${issue.path}: ${issue.message}`);
    if (e.kind === 'CONFLICT' && e.details.existingId) console.error(`  existing credit: ${e.details.existingId}`);
    process.exitCode = 1;
  }
}
