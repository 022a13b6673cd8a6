import { LockMode, type EntityManager } from '@mikro-orm/postgresql';
import { CreditEntity, type CreditRow, type RetirementState } from '../db/entities.js';
import { canonicalRegistry, canonicalSerial } from './canonical-id.js';
import type { CreditState } from './state.js';

/** What the API shows of a credit: the projection without its internal keys, timestamps as ISO-8601. */
export type CreditView = Omit<CreditRow, 'registryKey' | 'serialKey' | 'retirementState' | 'createdAt' | 'retiredAt'> & {
  createdAt: string;
  retiredAt: string | null;
};

type ExistingState = Exclude<CreditState, { status: 'absent' }>;

function retirementStateOf(state: ExistingState): RetirementState {
  if (state.status === 'retired') return 'retired';
  if (state.pending) return 'pending';
  return state.lastFailure ? 'failed' : 'none';
}

/** The projection row is a pure function of the replayed state. */
export function projectionOf(state: ExistingState): CreditRow {
  return {
    id: state.id,
    ...state.fields,
    registryKey: canonicalRegistry(state.fields.registry),
    serialKey: canonicalSerial(state.fields.serialNumber),
    status: state.status,
    retirementState: retirementStateOf(state),
    createdAt: state.createdAt,
    retiredAt: state.status === 'retired' ? state.retirement.retiredAt : null,
    version: state.version,
  };
}

export function viewOf(row: Pick<CreditRow, keyof CreditView>): CreditView {
  return {
    id: row.id,
    projectName: row.projectName,
    registry: row.registry,
    vintage: row.vintage,
    quantity: row.quantity,
    serialNumber: row.serialNumber,
    status: row.status,
    createdAt: row.createdAt.toISOString(),
    retiredAt: row.retiredAt ? row.retiredAt.toISOString() : null,
    version: row.version,
  };
}

export type CreditDbRow = {
  id: string;
  project_name: string;
  registry: string;
  vintage: number;
  quantity: string;
  serial_number: string;
  registry_key: string;
  serial_key: string;
  status: 'active' | 'retired';
  retirement_state: RetirementState;
  created_at: Date;
  retired_at: Date | null;
  version: number;
};

export const CREDIT_COLUMNS =
  'id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key, status, retirement_state, created_at, retired_at, version';

export function fromCreditRow(r: CreditDbRow): CreditRow {
  return {
    id: r.id,
    projectName: r.project_name,
    registry: r.registry,
    vintage: r.vintage,
    quantity: String(r.quantity),
    serialNumber: r.serial_number,
    registryKey: r.registry_key,
    serialKey: r.serial_key,
    status: r.status,
    retirementState: r.retirement_state,
    createdAt: new Date(r.created_at),
    retiredAt: r.retired_at ? new Date(r.retired_at) : null,
    version: r.version,
  };
}

const rowParams = (p: CreditRow) => [
  p.id,
  p.projectName,
  p.registry,
  p.vintage,
  p.quantity,
  p.serialNumber,
  p.registryKey,
  p.serialKey,
  p.status,
  p.retirementState,
  p.createdAt,
  p.retiredAt,
  p.version,
];

/**
 * Inserts new projection rows, skipping any that collide on the ID or on
 * (registry, serial). A collision with an uncommitted row waits for it, so
 * the caller learns the committed outcome. Returns the IDs actually inserted.
 */
export async function insertNewProjections(em: EntityManager, rows: CreditRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const values = rows.map(() => '(?, ?, ?, ?, ?::numeric, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
  const inserted = await em.execute<{ id: string }[]>(
    `insert into credits (${CREDIT_COLUMNS}) values ${values} on conflict do nothing returning id`,
    rows.flatMap(rowParams),
  );
  return new Set(inserted.map((r) => r.id));
}

/** Overwrites one credit's projection with the replay of its events. */
export async function saveProjection(em: EntityManager, row: CreditRow): Promise<void> {
  await em.execute(
    `insert into credits (${CREDIT_COLUMNS}) values (?, ?, ?, ?, ?::numeric, ?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (id) do update set
       project_name = excluded.project_name, registry = excluded.registry, vintage = excluded.vintage,
       quantity = excluded.quantity, serial_number = excluded.serial_number,
       registry_key = excluded.registry_key, serial_key = excluded.serial_key,
       status = excluded.status, retirement_state = excluded.retirement_state,
       created_at = excluded.created_at, retired_at = excluded.retired_at, version = excluded.version`,
    rowParams(row),
  );
}

export async function findCredits(em: EntityManager, ids: string[]): Promise<CreditRow[]> {
  if (ids.length === 0) return [];
  const rows = await em.execute<CreditDbRow[]>(`select ${CREDIT_COLUMNS} from credits where id in (?)`, [ids]);
  return rows.map(fromCreditRow);
}

/**
 * SELECT … FOR UPDATE on the credit's projection row: whoever holds it is the
 * only writer of that credit's stream until the transaction ends.
 */
export async function lockCredit(em: EntityManager, id: string): Promise<CreditRow | null> {
  return em.findOne(CreditEntity, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, disableIdentityMap: true });
}
