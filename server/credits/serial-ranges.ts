/*
 * Registry serials that carry the unit range of a block, and how a sub-range
 * of a block is spelled. Pure: no I/O.
 *
 * Verra (VCS): the issuance number, the first and last unit, then the rest:
 *   19298-935995787-935995804-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0
 *   units 935995787…935995804 (18 units); block key
 *   19298-VCS-VCU-1491-VER-BR-1-513-01012018-31122018-0
 * Gold Standard: the block's identifier, then the first and last unit:
 *   GS1-1-TR-GS7652-12-2025-29983-1-5085
 *   units 1…5085 (5,085 units); block key GS1-1-TR-GS7652-12-2025-29983
 *
 * Anything else is an amount-only serial: no units are read from it.
 */

export type UnitRange = { first: number; last: number };

export type SerialFormat = 'verra' | 'gold-standard';

export type ParsedSerial = {
  format: SerialFormat;
  /** The serial without its range: the same for every part of one issued block. */
  blockKey: string;
  units: UnitRange;
};

// Issuance number, first unit, last unit, then VCS-VCU-… ending in the two
// vintage dates (ddmmyyyy) and the 0/1 flag.
const VERRA = /^(\d{1,12})-(\d{1,15})-(\d{1,15})-(VCS-VCU(?:-[0-9A-Z]+)+-\d{8}-\d{8}-[01])$/;
// GS<n>-<n>-<country>-GS<project>-<month>-<year>-<batch>, then first and last unit.
const GOLD_STANDARD = /^(GS\d{1,6}-\d{1,6}-[A-Z]{2}-GS\d{1,8}-\d{1,2}-\d{4}-\d{1,12})-(\d{1,15})-(\d{1,15})$/;

function range(first: string, last: string): UnitRange | null {
  const units = { first: Number(first), last: Number(last) };
  return Number.isSafeInteger(units.first) && Number.isSafeInteger(units.last) && units.first <= units.last ? units : null;
}

/** The block and units a serial spells, or null for an amount-only serial (or a range that runs backwards). */
export function parseSerial(serial: string): ParsedSerial | null {
  const verra = VERRA.exec(serial);
  if (verra) {
    const [, issuance = '', first = '', last = '', rest = ''] = verra;
    const units = range(first, last);
    return units && { format: 'verra', blockKey: `${issuance}-${rest}`, units };
  }
  const gs = GOLD_STANDARD.exec(serial);
  if (gs) {
    const [, block = '', first = '', last = ''] = gs;
    const units = range(first, last);
    return units && { format: 'gold-standard', blockKey: block, units };
  }
  return null;
}

/** The registry's serial for a sub-range of a block whose serial is `serial` (a recognised format). */
export function serialForUnits(serial: ParsedSerial, units: UnitRange): string {
  switch (serial.format) {
    case 'verra': {
      const dash = serial.blockKey.indexOf('-');
      return `${serial.blockKey.slice(0, dash)}-${units.first}-${units.last}${serial.blockKey.slice(dash)}`;
    }
    case 'gold-standard':
      return `${serial.blockKey}-${units.first}-${units.last}`;
    default: {
      const unknown: never = serial.format;
      throw new Error(`unknown serial format ${String(unknown)}`);
    }
  }
}

export const unitCount = (units: UnitRange): number => units.last - units.first + 1;
