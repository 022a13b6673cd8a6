/**
 * credits.get and credits.list under load: files of request paths for
 * wrk/paths.lua (random IDs, the first page, deep cursors), each checked with
 * one real request before wrk runs it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';

export type ReadPaths = { get: string; listFirst: string; listDeep: string };

const query = (procedure: string, input: unknown) => `/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(input))}`;

/** The cursor credits.list hands out for a row (server/credits/list.handler.ts): base64url JSON [createdAt, id]. */
const cursorOf = (createdAt: Date, id: string) => Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString('base64url');

/** Writes the three path files for the ledger as it is now; `tag` names them. */
export async function writeReadPaths(db: pg.Client, dir: string, tag: string): Promise<ReadPaths> {
  const ids = await db.query<{ id: string }>('select id from credits order by random() limit 10000');
  // Pages that start in the second half of the list: (created_at, id) order, as the API pages.
  const deep = await db.query<{ created_at: Date; id: string }>(
    `select created_at, id from (
       select created_at, id, row_number() over (order by created_at, id) as n, count(*) over () as total from credits
     ) t where n > total / 2 and n < total - 100 and n % greatest(1, total / 50) = 0`,
  );
  const files = { get: join(dir, `get-${tag}.txt`), listFirst: join(dir, `list-first-${tag}.txt`), listDeep: join(dir, `list-deep-${tag}.txt`) };
  await writeFile(files.get, ids.rows.map((r) => query('credits.get', { id: r.id })).join('\n'));
  await writeFile(files.listFirst, query('credits.list', { limit: 50 }));
  await writeFile(files.listDeep, deep.rows.map((r) => query('credits.list', { limit: 50, cursor: cursorOf(r.created_at, r.id) })).join('\n'));
  return files;
}

/** GETs the first path of a file and returns the answer's body; throws unless it is a 200 (a wrong path would only show up as wrk errors). */
export async function probe(baseUrl: string, key: string, pathsFile: string, expect: (body: string) => boolean = () => true): Promise<string> {
  const path = (await readFile(pathsFile, 'utf8')).split('\n')[0] ?? '';
  const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
  const body = await res.text();
  if (!res.ok || !expect(body)) throw new Error(`GET ${path} answered ${res.status}: ${body.slice(0, 300)}`);
  return body;
}

/** A list answer holds a full page. */
export const fullPage = (body: string) => (JSON.parse(body) as { result: { data: { items: unknown[] } } }).result.data.items.length === 50;
