import { Migration } from '@mikro-orm/migrations';
import { unitsOf } from '../../credits/state.js';

/**
 * Credit blocks: a credit may hold a range of units of an issued block; parts
 * are split off it, retired or cancelled. PostgreSQL itself keeps every unit
 * held by at most one credit: an exclusion constraint over (registry, block,
 * units) for every credit that holds units. Credits that existed before keep
 * their events; those whose serial spells a range (Verra, Gold Standard) get
 * their units written into the projection, the same units a replay gives.
 */
export class Migration20261201000400_blocks extends Migration {
  override async up(): Promise<void> {
    // btree_gist lets one GiST constraint compare text for equality and ranges for overlap; it is a trusted extension.
    await this.execute(`create extension if not exists btree_gist`);

    await this.execute(`alter table events drop constraint events_type_check`);
    await this.execute(`
      alter table events add constraint events_type_check check (type in (
        'created', 'split_from', 'split', 'retirement_requested', 'retirement_failed', 'retired', 'cancelled'))`);
    // A credit begins once and ends once, however it began and ended.
    await this.execute(`create unique index events_one_split_from on events (credit_id) where type = 'split_from'`);
    await this.execute(`create unique index events_one_cancelled on events (credit_id) where type = 'cancelled'`);
    await this.execute(`alter table events add constraint events_begin_at_version_one check ((type in ('created', 'split_from')) = (version = 1))`);

    await this.execute(`alter table credits drop constraint credits_status_check`);
    await this.execute(`alter table credits add constraint credits_status_check check (status in ('active', 'retired', 'cancelled'))`);
    await this.execute(`
      alter table credits
        add column unit_first bigint,
        add column unit_last bigint,
        add column block_key text,
        add column parent_id text,
        add constraint credits_units_shape check (
          (unit_first is null) = (unit_last is null) and (unit_first is null) = (block_key is null)
          and (unit_first is null or (unit_first >= 0 and unit_first <= unit_last))
          and (unit_first is null or quantity = unit_last - unit_first + 1))`);
    await this.execute(`create index credits_children on credits (parent_id, created_at, id) where parent_id is not null`);

    // Existing credits whose serial spells a range: their units, as replay derives them.
    const rows = await this.execute(`select id, serial_number, quantity::text as quantity from credits where serial_number ~ '^(\\d+-\\d+-\\d+-VCS-VCU-|GS\\d)'`);
    for (const row of rows as { id: string; serial_number: string; quantity: string }[]) {
      const { units, blockKey } = unitsOf({ projectName: '', registry: '', vintage: 0, quantity: row.quantity, serialNumber: row.serial_number });
      if (!units) continue;
      await this.execute(`update credits set unit_first = ?, unit_last = ?, block_key = ? where id = ?`, [units.first, units.last, blockKey, row.id]);
    }

    // Credits from before units were read may already share some (the same units imported under two serials, say):
    // the constraint below would refuse them with one pair named; name them all, so they can be sorted out first.
    const shared = (await this.execute(`
      select a.id as a, a.serial_number as a_serial, b.id as b, b.serial_number as b_serial,
             greatest(a.unit_first, b.unit_first) as first, least(a.unit_last, b.unit_last) as last
      from credits a join credits b
        on a.registry_key = b.registry_key and a.block_key = b.block_key and a.id < b.id
       and int8range(a.unit_first, a.unit_last, '[]') && int8range(b.unit_first, b.unit_last, '[]')
      order by a.id, b.id limit 20`)) as { a: string; a_serial: string; b: string; b_serial: string; first: string; last: string }[];
    if (shared.length > 0) {
      const pairs = shared.map((r) => `${r.a} (${r.a_serial}) and ${r.b} (${r.b_serial}) share units ${r.first}…${r.last}`);
      throw new Error(
        `credits recorded before blocks hold the same units: ${pairs.join('; ')}${shared.length === 20 ? '; and maybe more' : ''}. ` +
          'Every unit must be held by one credit before this migration can add the constraint that keeps it so: resolve these by hand first.',
      );
    }

    // No unit live twice, whatever the code does.
    await this.execute(`
      alter table credits add constraint credits_units_held_once
        exclude using gist (registry_key with =, block_key with =, int8range(unit_first, unit_last, '[]') with &&)
        where (unit_first is not null)`);
  }
}
