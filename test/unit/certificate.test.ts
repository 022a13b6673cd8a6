import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../server/credits/events.js';
import { currentSerial, type CreditState } from '../../server/credits/state.js';
import { certificateOf } from '../../server/proofs/certificate.js';

/*
 * What a certificate says a credit is: the serial it goes by, the one
 * credits.get shows (state.ts's currentSerial), never a spelling of its own.
 */

type Retired = Extract<CreditState, { status: 'retired' }>;

const retiredAt = new Date('2026-11-26T08:00:33.438Z');
const retired = (serialNumber: string, units: { first: number; last: number }, quantity: string): Retired => ({
  status: 'retired',
  id: `cc_${'ab'.repeat(32)}`,
  fields: { projectName: 'Kasigau Corridor REDD+', registry: 'Verra', vintage: 2021, quantity, serialNumber },
  createdAt: new Date('2026-11-20T00:00:00Z'),
  version: 3,
  quantity,
  units,
  blockKey: '19298-vcs-vcu-1491-ver-br-1-513-01012018-31122018-0',
  parentId: null,
  splits: new Map(),
  retirement: { beneficiary: 'Acme Corp', reason: null, requestedBy: 'key_0123456789abcdef', requestedAt: retiredAt, retiredAt, retiredBy: 'key_0123456789abcdef', attempts: 1 },
});
const certificateFor = (state: Retired) =>
  certificateOf(state, { type: 'retired', creditId: state.id, position: '42', hash: 'cd'.repeat(32) } as StoredEvent, 'https://ledger.example.org');

describe('a certificate names the credit', () => {
  it('retired whole: by the serial it was issued under, as written (leading zeros and all)', () => {
    const serial = '19298-000000101-000000118-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0';
    const state = retired(serial, { first: 101, last: 118 }, '18');
    expect(certificateFor(state).serialNumber).toBe(serial);
    expect(certificateFor(state).serialNumber).toBe(currentSerial(state));
  });

  it('holding part of the units its serial spells: by the registry’s serial of those units', () => {
    const state = retired('19298-935995787-935996396-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0', { first: 935995805, last: 935996396 }, '592');
    expect(certificateFor(state).serialNumber).toBe('19298-935995805-935996396-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0');
    expect(certificateFor(state).serialNumber).toBe(currentSerial(state));
  });
});
