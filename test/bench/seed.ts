/**
 * Many credits, fast but valid: each row goes through the ledger's own input
 * schema, ID rule, decider, hash chain and projection (the same steps as
 * server/credits/create.handler.ts), and is written with a few large
 * INSERT … SELECT FROM unnest(…) statements per batch instead of one request
 * each. `npm run admin -- verify` passes on the result.
 */
import type pg from 'pg';
import { creditId } from '../../server/credits/canonical-id.js';
import { createCreditInput } from '../../server/credits/credit.schema.js';
import { decide } from '../../server/credits/decider.js';
import { chained } from '../../server/credits/event-store.js';
import type { NewEvent } from '../../server/credits/events.js';
import { projectionOf } from '../../server/credits/projection.js';
import { initialState, replay } from '../../server/credits/state.js';
import type { CreditRecord } from '../../server/db/entities.js';

const BATCH = 5000;
const REGISTRIES = ['Verra', 'Gold Standard', 'American Carbon Registry'];

type Prepared = { row: CreditRecord; event: NewEvent };

function prepare(run: string, i: number, actor: string, now: Date): Prepared {
  const fields = createCreditInput.parse({
    projectName: `Seed Project ${i % 997}`,
    registry: REGISTRIES[i % REGISTRIES.length],
    vintage: 2010 + (i % 15),
    quantity: `${1 + (i % 5000)}.${i % 100}`,
    serialNumber: `SEED-${run}-${i}`,
  });
  const id = creditId(fields);
  const [created] = decide({ type: 'create', fields }, initialState());
  if (!created) throw new Error('create must produce an event');
  const [event] = chained(id, { version: 0, hash: null }, [created], { actor, now });
  if (!event) throw new Error('chained must return the event');
  const state = replay([event]);
  if (state.status === 'absent') throw new Error('created event must bring the credit into existence');
  return { row: projectionOf(state), event };
}

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;

/** One statement (so PostgreSQL works on it while Node hashes the next batch): the rows and their events. */
function insertBatch(db: pg.Client, batch: Prepared[]): Promise<unknown> {
  const rows = batch.map((b) => b.row);
  const events = batch.map((b) => b.event);
  return db.query(
    `with new_credits as (
       insert into credits (id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key,
                            status, retirement_state, created_at, retired_at, version)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::numeric[], $6::text[], $7::text[], $8::text[],
                            $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::int[]))
     insert into events (credit_id, version, type, payload, actor, occurred_at, prev_hash, hash)
     select * from unnest($14::text[], $15::int[], $16::text[], $17::jsonb[], $18::text[], $19::timestamptz[], $20::text[], $21::text[])`,
    [
      rows.map((r) => r.id),
      rows.map((r) => r.projectName),
      rows.map((r) => r.registry),
      rows.map((r) => r.vintage),
      rows.map((r) => r.quantity),
      rows.map((r) => r.serialNumber),
      rows.map((r) => r.registryKey),
      rows.map((r) => r.serialKey),
      rows.map((r) => r.status),
      rows.map((r) => r.retirementState),
      rows.map((r) => iso(r.createdAt)),
      rows.map((r) => iso(r.retiredAt)),
      rows.map((r) => r.version),
      events.map((e) => e.creditId),
      events.map((e) => e.version),
      events.map((e) => e.type),
      events.map((e) => JSON.stringify(e.data)),
      events.map((e) => e.actor),
      events.map((e) => iso(e.occurredAt)),
      events.map((e) => e.prevHash),
      events.map((e) => e.hash),
    ],
  );
}

/**
 * Writes `count` new credits, each with its `created` event by `actor`,
 * created one millisecond apart ending now; returns their IDs. `run` keeps
 * serial numbers unique across calls.
 */
export async function seedCredits(db: pg.Client, count: number, opts: { run: string; actor: string }): Promise<string[]> {
  // A bulk load, not a measurement: no need to wait for each batch's WAL flush.
  await db.query('set synchronous_commit = off');
  const ids: string[] = [];
  const start = Date.now() - count;
  let inFlight: Promise<unknown> = Promise.resolve();
  for (let from = 0; from < count; from += BATCH) {
    const batch: Prepared[] = [];
    for (let i = from; i < Math.min(count, from + BATCH); i++) batch.push(prepare(opts.run, i, opts.actor, new Date(start + i)));
    // Hash the next batch while PostgreSQL writes this one.
    await inFlight;
    inFlight = insertBatch(db, batch);
    for (const p of batch) ids.push(p.row.id);
  }
  await inFlight;
  await db.query('set synchronous_commit = on');
  return ids;
}

/** How many credits the ledger holds. */
async function countCredits(db: pg.Client): Promise<number> {
  const { rows } = await db.query<{ n: string }>('select count(*)::text as n from credits');
  return Number(rows[0]?.n ?? 0);
}

/**
 * Brings the ledger to `total` credits (never fewer than it has), then
 * refreshes the planner's statistics and flushes the load to disk, so neither
 * is left to happen during the next measurement.
 */
export async function seedUpTo(db: pg.Client, total: number, opts: { run: string; actor: string }): Promise<number> {
  const missing = total - (await countCredits(db));
  if (missing > 0) await seedCredits(db, missing, opts);
  await db.query('vacuum analyze credits, events');
  await db.query('checkpoint');
  return countCredits(db);
}
