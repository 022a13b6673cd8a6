import { JsonType, type EntityMetadata, type EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';

/*
 * Hand-written SQL on the hot paths still takes its column names and row
 * mapping from the entity definitions (server/db/entities.ts): `columns` lists
 * them in property order, `mapRows` turns driver rows into the entity's
 * property names and types through MikroORM's own result mapping.
 */

type Columns = { meta: EntityMetadata; fields: string[]; list: string };
const cache = new WeakMap<EntityMetadata, Columns>();

function columnsOfMeta(meta: EntityMetadata): Columns {
  let cols = cache.get(meta);
  if (!cols) {
    const fields = meta.props.flatMap((prop) => prop.fieldNames);
    cols = { meta, fields, list: fields.join(', ') };
    cache.set(meta, cols);
  }
  return cols;
}

const metaOf = <T extends object>(em: EntityManager, entity: EntityName<T>) => em.getMetadata().get<T>(entity);

/** The table's columns, comma-separated in property order: for `select` and `insert` lists. */
export function columns<T extends object>(em: EntityManager, entity: EntityName<T>): string {
  return columnsOfMeta(metaOf(em, entity)).list;
}

/** Driver rows (column names, raw values) as the entity's properties, typed as the entity. */
function mapRows<T extends object>(em: EntityManager, entity: EntityName<T>, rows: Record<string, unknown>[]): T[] {
  const meta = metaOf(em, entity);
  const driver = em.getDriver();
  return rows.map((row) => driver.mapResult(row as never, meta) as T);
}

/** `t.col as prefixcol, …`: the table's columns under a prefix, so two tables can share one result row. */
export function prefixedColumns<T extends object>(em: EntityManager, entity: EntityName<T>, table: string, prefix: string): string {
  return columnsOfMeta(metaOf(em, entity))
    .fields.map((f) => `${table}.${f} as ${prefix}${f}`)
    .join(', ');
}

/** The part of a joined row under `prefix`, as the entity; null when its columns are all null (an outer join's miss). */
export function mapPrefixed<T extends object>(em: EntityManager, entity: EntityName<T>, row: Record<string, unknown>, prefix: string): T | null {
  const own: Record<string, unknown> = {};
  let present = false;
  for (const [key, value] of Object.entries(row)) {
    if (!key.startsWith(prefix)) continue;
    own[key.slice(prefix.length)] = value;
    present ||= value !== null;
  }
  return present ? (mapRows(em, entity, [own])[0] ?? null) : null;
}

/** Runs a query whose select list is `columns(em, entity)` and maps its rows. */
export async function selectRows<T extends object>(em: EntityManager, entity: EntityName<T>, sql: string, params: unknown[] = []): Promise<T[]> {
  return mapRows(em, entity, await em.execute<Record<string, unknown>[]>(sql, params));
}

/**
 * `(col, …) values (?, …), (?, …)` and its parameters for a multi-row insert,
 * one round trip however many rows. JSON properties are sent as JSON text.
 */
export function insertValues<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  rows: Partial<T>[],
  opts: { typed?: boolean } = {},
): { sql: string; params: unknown[] } {
  // Generated values (the log's position, the writing transaction) are the database's to give.
  const props = metaOf(em, entity).props.filter((prop) => prop.fieldNames.length > 0 && !prop.autoincrement && prop.defaultRaw === undefined);
  // Typed placeholders (`?::jsonb`) when the values stand in a VALUES list of their own rather than under an INSERT.
  const tuple = `(${props.map((prop) => (opts.typed ? `?::${prop.columnTypes[0] ?? 'text'}` : '?')).join(', ')})`;
  const params = rows.flatMap((row) =>
    props.map((prop) => {
      const value = (row as Record<string, unknown>)[prop.name];
      return prop.customType instanceof JsonType && value != null ? JSON.stringify(value) : value;
    }),
  );
  const list = props.flatMap((prop) => prop.fieldNames).join(', ');
  return { sql: `(${list}) values ${rows.map(() => tuple).join(', ')}`, params };
}
