export { createLedgerClient, type LedgerClient, type LedgerClientOptions } from './ledger-client.js';
