import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';

/*
 * The API keeps idle connections open longer than a load balancer in front of
 * it would (60 s on common ones), so the balancer closes them first and never
 * sends a request on a connection the API is closing at that moment.
 */

let defaults: TestApp;
let short: TestApp;

beforeAll(async () => {
  [defaults, short] = await Promise.all([startTestApp(), startTestApp({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '1500', HTTP_HEADERS_TIMEOUT_MS: '2500' })]);
});

afterAll(async () => {
  await Promise.all([defaults?.close(), short?.close()]);
});

describe('keep-alive and headers timeouts', () => {
  it('are 65 s and 66 s by default', () => {
    expect(defaults.server.keepAliveTimeout).toBe(65_000);
    expect(defaults.server.headersTimeout).toBe(66_000);
  });

  it('come from HTTP_KEEP_ALIVE_TIMEOUT_MS and HTTP_HEADERS_TIMEOUT_MS, and an idle connection is closed after the keep-alive timeout, not before', async () => {
    expect(short.server.keepAliveTimeout).toBe(1500);
    expect(short.server.headersTimeout).toBe(2500);
    const { port } = new URL(short.url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    let answeredAt = 0;
    const closedAt = new Promise<number>((resolve, reject) => {
      socket.on('close', () => resolve(Date.now()));
      socket.on('error', reject);
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (received.includes('{"ok":true}')) answeredAt ||= Date.now();
    });
    socket.write('GET /healthz HTTP/1.1\r\nHost: ledger\r\nConnection: keep-alive\r\n\r\n');
    const idle = (await closedAt) - answeredAt;
    expect(received).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(received).toMatch(/Keep-Alive: timeout=1/i);
    expect(idle).toBeGreaterThanOrEqual(1400);
    expect(idle).toBeLessThan(15_000);
  });
});
