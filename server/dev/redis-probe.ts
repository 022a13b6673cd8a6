/**
 * Moved to server/queue/redis-probe.ts. Kept only for the tests in
 * test/integration and test/e2e that still import it from here; delete this
 * file once their imports point at server/queue/redis-probe.js.
 */
export { shutdownNoSave, withRedis } from '../queue/redis-probe.js';
