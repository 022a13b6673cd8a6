/**
 * The client's one door to the server: types only, never code. In this
 * repository they come straight from the server's sources; the published
 * package replaces this module's declarations with the same types evaluated to
 * plain data (client/build/router-contract.ts), so it carries no server source
 * and needs none of the server's libraries.
 */
export type { AppRouter } from '../server/trpc/root.js';
export type { DomainErrorCode } from '../server/credits/errors.js';
