import { readFile } from 'node:fs/promises';
import { text as streamText } from 'node:stream/consumers';
import { jwkSetOf } from '../../client/verify-jws.js';
import type { LedgerJwks } from '../proofs/jwks.js';
import { CliError, errorMessage } from './errors.js';

/*
 * What the proof commands read: a JWK Set from a URL or a file, and a JWS
 * from a file or stdin, given alone or inside the JSON the ledger printed
 * (credits.certificate's answer, `checkpoint --json`, a saved checkpoint).
 */

/** A JWK Set from an http(s) URL (e.g. https://ledger.example/.well-known/jwks.json) or a file. */
export async function readJwks(source: string): Promise<LedgerJwks> {
  let text: string;
  if (/^https?:\/\//i.test(source)) {
    const res = await fetch(source, { signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => {
      throw new CliError(`cannot fetch the JWK Set ${source}: ${errorMessage(err)}`);
    });
    if (!res.ok) throw new CliError(`cannot fetch the JWK Set ${source}: HTTP ${res.status}`);
    text = await res.text();
  } else {
    text = await readFile(source, 'utf8').catch((err: unknown) => {
      throw new CliError(`cannot read the JWK Set ${source}: ${errorMessage(err)}`);
    });
  }
  try {
    return jwkSetOf(text) as LedgerJwks;
  } catch (err) {
    throw new CliError(`${source} is not a JWK Set: ${err instanceof SyntaxError ? 'not JSON' : errorMessage(err)}`);
  }
}

/** The text of a file, or of stdin for "-". */
export async function readInput(path: string): Promise<string> {
  if (path === '-') return streamText(process.stdin);
  return readFile(path, 'utf8').catch((err: unknown) => {
    throw new CliError(`cannot read ${path}: ${errorMessage(err)}`);
  });
}

/**
 * The compact JWS in `text`: the JWS itself, or JSON holding it as `jws`
 * (at the top or under `checkpoint`). Anything else is returned trimmed, for
 * the verifier to call malformed.
 */
export function jwsIn(text: string): string {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return trimmed;
  try {
    const doc = JSON.parse(trimmed) as { jws?: unknown; checkpoint?: { jws?: unknown } };
    if (typeof doc.jws === 'string') return doc.jws;
    if (typeof doc.checkpoint?.jws === 'string') return doc.checkpoint.jws;
  } catch {
    // Not JSON after all: the verifier will say it is malformed.
  }
  return trimmed;
}
