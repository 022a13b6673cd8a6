import type { CreditRecord, RetirementState } from '../db/entities.js';
import { jsonView, type JsonView } from '../db/json-view.js';
import { canonicalRegistry, canonicalSerial } from './canonical-id.js';
import { currentSerial, type ExistingCredit } from './state.js';

/*
 * The credits table as a pure function of a credit's events: what its row
 * must hold, how a stored row differs from that, and what the API shows.
 */

function retirementStateOf(state: ExistingCredit): RetirementState {
  if (state.status === 'retired') return 'retired';
  if (state.status !== 'active') return 'none';
  if (state.pending) return 'pending';
  return state.lastFailure ? 'failed' : 'none';
}

/** The projection row is a pure function of the replayed state. */
export function projectionOf(state: ExistingCredit): CreditRecord {
  const { projectName, registry, vintage } = state.fields;
  const serialNumber = currentSerial(state);
  return {
    id: state.id,
    projectName,
    registry,
    vintage,
    quantity: state.quantity,
    serialNumber,
    registryKey: canonicalRegistry(registry),
    serialKey: canonicalSerial(serialNumber),
    status: state.status,
    retirementState: retirementStateOf(state),
    createdAt: state.createdAt,
    retiredAt: state.status === 'retired' ? state.retirement.retiredAt : null,
    version: state.version,
    unitFirst: state.units?.first ?? null,
    unitLast: state.units?.last ?? null,
    blockKey: state.blockKey,
    parentId: state.parentId,
  };
}

const show = (v: unknown): string => (v instanceof Date ? v.toISOString() : JSON.stringify(v));

const sameValue = (a: unknown, b: unknown): boolean => {
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  // Decimals are text on both sides; a hand-edited row may still hold a number.
  return a === b || ((typeof a === 'number' || typeof b === 'number') && `${a as string | number}` === `${b as string | number}`);
};

export type ColumnDiff = { column: keyof CreditRecord; expected: string; actual: string };

/** The columns where `actual` differs from `expected`, with both values; [] when equal. */
export function projectionDiff(expected: CreditRecord, actual: CreditRecord): ColumnDiff[] {
  const diffs: ColumnDiff[] = [];
  for (const column of Object.keys(expected) as (keyof CreditRecord)[]) {
    if (!sameValue(expected[column], actual[column])) diffs.push({ column, expected: show(expected[column]), actual: show(actual[column]) });
  }
  return diffs;
}

/** Internal keys the API never shows; the units are shown as one range. */
const HIDDEN = ['registryKey', 'serialKey', 'retirementState', 'blockKey', 'unitFirst', 'unitLast'] as const;

/**
 * A credit as the API shows it: its projection without internal keys,
 * timestamps as ISO-8601, and `unitRange` {first, last} for a block (null for
 * an amount-only credit).
 */
// parentId stays optional in the type, as the entity has it: the client package's generated contract must equal
// this type exactly, and it does for this intersection. creditView below always sets it (null for an issued block).
export type CreditView = JsonView<Omit<CreditRecord, (typeof HIDDEN)[number]>> & { unitRange: { first: number; last: number } | null };

export const creditView = (row: CreditRecord): CreditView => ({
  ...jsonView(row, HIDDEN),
  unitRange: row.unitFirst != null && row.unitLast != null ? { first: row.unitFirst, last: row.unitLast } : null,
  parentId: row.parentId ?? null,
});
