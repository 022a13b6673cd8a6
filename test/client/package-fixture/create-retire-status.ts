/**
 * An application outside the repository using the installed package: creates
 * a credit, requests its retirement, and polls its status until the worker has
 * retired it. Prints one JSON line for the test to read.
 */
import { createLedgerClient, ledgerError, type RetirementStatus } from '@carbon-ledger/client';

// The project has no @types/node (not a dependency of the package); this is all it uses of Node.
declare const process: { env: Record<string, string | undefined>; exitCode: number | undefined };

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

try {
  const client = createLedgerClient({ url: setting('LEDGER_URL'), apiKey: setting('LEDGER_API_KEY') });
  const { credit, created } = await client.credits.create.mutate({
    projectName: 'Packaged Client Peatland',
    registry: 'Verra',
    vintage: 2021,
    quantity: '42.5',
    serialNumber: setting('SERIAL'),
  });
  const request = await client.credits.retire.mutate({ id: credit.id, beneficiary: 'Scratch Project Ltd', reason: 'package test' });

  const seen: Array<RetirementStatus['status']> = [];
  const deadline = Date.now() + 30_000;
  let status = await client.credits.retirementStatus.query({ id: credit.id });
  seen.push(status.status);
  while (status.status !== 'retired' && status.status !== 'failed' && Date.now() < deadline) {
    await sleep(100);
    status = await client.credits.retirementStatus.query({ id: credit.id });
    if (seen[seen.length - 1] !== status.status) seen.push(status.status);
  }
  console.log(JSON.stringify({ credit, created, request, seen, status }));
} catch (err) {
  const e = ledgerError(err);
  console.error(`failed (${e.kind}): ${e.message}`);
  process.exitCode = 1;
}
