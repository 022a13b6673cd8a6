/** Choosing, remembering and binding the TCP port of a local server. */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { LOOPBACK } from './service-options.js';

/** An unused TCP port on 127.0.0.1 (free at the time of asking). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

/** The port a server on this data folder used last time, or null. */
export async function readPort(file: string): Promise<number | null> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const port = Number.parseInt(text.trim(), 10);
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : null;
}

/**
 * Launches on `wanted`, or on a free port when it is null, and returns the
 * port the server runs on. `portTaken` recognises the server's own "address in
 * use" failure.
 */
export async function launchOnPort(wanted: number | null, launch: (port: number) => Promise<void>, portTaken: RegExp): Promise<number> {
  let port = wanted ?? (await freePort());
  for (let attempt = 1; ; attempt++) {
    try {
      await launch(port);
      return port;
    } catch (err) {
      // A chosen port can be grabbed between freePort() and bind(); only then is picking another one right.
      const taken = portTaken.test((err as Error).message);
      if (!(wanted === null && taken && attempt < 3)) throw err;
      port = await freePort();
    }
  }
}
