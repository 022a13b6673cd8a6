import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSerial, serialForUnits, unitCount } from '../../server/credits/serial-ranges.js';

/*
 * Reading unit ranges from registry serials (Verra, Gold Standard), spelling
 * the serial of a sub-range, and leaving look-alikes alone.
 */

const VERRA_ROWS = [
  // quantity, serial: three consecutive retirements from one Verra issuance (public records)
  [18, '19298-935995787-935995804-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0'],
  [526, '19298-935995805-935996330-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0'],
  [66, '19298-935996331-935996396-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0'],
] as const;

const GS_ROWS = [
  [5085, 'GS1-1-TR-GS7652-12-2025-29983-1-5085'],
  [1247, 'GS1-1-TR-GS7652-12-2025-29983-5086-6332'],
  [298, 'GS1-1-TR-GS7652-12-2025-29983-6333-6630'],
] as const;

describe('parseSerial', () => {
  it.each(VERRA_ROWS)('Verra: %i units in %s', (quantity, serial) => {
    const parsed = parseSerial(serial);
    expect(parsed).toMatchObject({ format: 'verra', blockKey: '19298-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0' });
    expect(parsed && unitCount(parsed.units)).toBe(quantity);
  });

  it.each(GS_ROWS)('Gold Standard: %i units in %s', (quantity, serial) => {
    const parsed = parseSerial(serial);
    expect(parsed).toMatchObject({ format: 'gold-standard', blockKey: 'GS1-1-TR-GS7652-12-2025-29983' });
    expect(parsed && unitCount(parsed.units)).toBe(quantity);
  });

  it('reads the exact range', () => {
    expect(parseSerial(VERRA_ROWS[0][1])?.units).toEqual({ first: 935995787, last: 935995804 });
    expect(parseSerial(GS_ROWS[1][1])?.units).toEqual({ first: 5086, last: 6332 });
  });

  it.each([
    ['an amount-only serial', 'VCS-1234-2021-001'],
    ['Verra without a range', '19298-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0'],
    ['Verra with one number where the range goes', '19298-935995787-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0'],
    ['Verra running backwards', '19298-935995804-935995787-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0'],
    ['Verra with letters in the issuance number', 'A9298-935995787-935995804-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0'],
    ['Verra without its vintage dates', '19298-935995787-935995804-VCS-VCU-1491-VER-BR-1-513'],
    ['Verra with a short date', '19298-1-2-VCS-VCU-1491-VER-BR-1-513-0101201-31122018-0'],
    ['Verra lower case', '19298-935995787-935995804-vcs-vcu-1491-ver-br-1-513-01012018-31122018-0'],
    ['VCS but not VCU', '19298-935995787-935995804-VCS-XYZ-1491-VER-BR-1-513-01012018-31122018-0'],
    ['Gold Standard running backwards', 'GS1-1-TR-GS7652-12-2025-29983-5085-1'],
    ['Gold Standard without a range', 'GS1-1-TR-GS7652-12-2025-29983'],
    ['Gold Standard with one number after the batch', 'GS1-1-TR-GS7652-12-2025-29983-1'],
    ['Gold Standard with a three-letter country', 'GS1-1-TRK-GS7652-12-2025-29983-1-5085'],
    ['Gold Standard without the GS project prefix', 'GS1-1-TR-7652-12-2025-29983-1-5085'],
    ['a range of more than 15 digits', 'GS1-1-TR-GS7652-12-2025-29983-1-9999999999999999'],
    ['ACR', 'ACR-US-192-2010-203-1-5000'],
    ['CAR', 'CAR-1-US-293-1-120-CA-2006-102-1 to 29251'],
  ])('%s is amount-only', (_name, serial) => {
    expect(parseSerial(serial)).toBeNull();
  });
});

describe('serialForUnits', () => {
  it('spells the registry serial of each consecutive part of a Verra block, exactly as the registry did', () => {
    const block = parseSerial('19298-935995787-935996396-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0');
    if (!block) throw new Error('not parsed');
    let next = block.units.first;
    for (const [quantity, serial] of VERRA_ROWS) {
      expect(serialForUnits(block, { first: next, last: next + quantity - 1 })).toBe(serial);
      next += quantity;
    }
  });

  it('spells the registry serial of each consecutive part of a Gold Standard block, exactly as the registry did', () => {
    const block = parseSerial('GS1-1-TR-GS7652-12-2025-29983-1-6630');
    if (!block) throw new Error('not parsed');
    let next = block.units.first;
    for (const [quantity, serial] of GS_ROWS) {
      expect(serialForUnits(block, { first: next, last: next + quantity - 1 })).toBe(serial);
      next += quantity;
    }
  });

  it('round-trips: the serial of any sub-range parses back to that sub-range and the same block', () => {
    const blocks = [parseSerial(VERRA_ROWS[0][1]), parseSerial(GS_ROWS[0][1])];
    fc.assert(
      fc.property(fc.constantFrom(...blocks), fc.nat(1e9), fc.nat(1e6), (block, first, length) => {
        if (!block) throw new Error('not parsed');
        const units = { first, last: first + length };
        const again = parseSerial(serialForUnits(block, units));
        expect(again).toEqual({ format: block.format, blockKey: block.blockKey, units });
      }),
    );
  });
});
