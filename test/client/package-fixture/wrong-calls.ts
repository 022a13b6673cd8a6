/**
 * Calls the ledger's procedures wrongly. Every call below must fail to
 * compile, with the error named on the line above it (the test checks each).
 */
import { createLedgerClient } from '@carbon-ledger/client';

const client = createLedgerClient({ url: 'http://127.0.0.1:3000', apiKey: 'unused' });
const credit = { projectName: 'Wrong Calls', registry: 'Verra', vintage: 2021, quantity: '1', serialNumber: 'WRONG-1' };

export async function wrongCalls(): Promise<void> {
  // expect TS2322: vintage is a number
  await client.credits.create.mutate({ ...credit, vintage: '2021' });
  // expect TS2345: retiring needs a beneficiary
  await client.credits.retire.mutate({ id: 'cc_0' });
  // expect TS2339: there is no credits.delete
  await client.credits.delete.mutate({ id: 'cc_0' });
  // expect TS2322: a retirement status is never 'done'
  const status: 'done' = (await client.credits.retirementStatus.query({ id: 'cc_0' })).status;
  void status;
}
