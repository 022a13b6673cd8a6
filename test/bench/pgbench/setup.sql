-- Scratch copies of the ledger's two tables (same columns, constraints and
-- indexes; no history of their own), filled with __ROWS__ credits and their
-- `created` events. Credit k has the ID 'cc_' || lpad(to_hex(k), 64, '0') and
-- was created k ms after 2026-01-01.
-- (pgbench.ts runs VACUUM ANALYZE after it: VACUUM cannot run in this batch.)
drop table if exists bench_events, bench_credits;
create table bench_credits (like credits including all);
create table bench_events (like events including all);
create sequence bench_events_position_seq owned by bench_events.position;
alter table bench_events alter column position set default nextval('bench_events_position_seq');

insert into bench_credits (id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key,
                           status, retirement_state, created_at, retired_at, version)
select 'cc_' || lpad(to_hex(k), 64, '0'), 'Bench Project ' || k % 97, 'Verra', 2015 + k % 10, 100.5,
       'PGB-' || k, 'verra', 'pgb-' || k, 'active', 'none', '2026-01-01T00:00:00Z'::timestamptz + k * interval '1 millisecond', null, 1
from generate_series(1, __ROWS__) k;

insert into bench_events (credit_id, version, type, payload, actor, occurred_at, prev_hash, hash)
select 'cc_' || lpad(to_hex(k), 64, '0'), 1, 'created',
       jsonb_build_object('projectName', 'Bench Project ' || k % 97, 'registry', 'Verra', 'vintage', 2015 + k % 10,
                          'quantity', '100.5', 'serialNumber', 'PGB-' || k),
       'key_0123456789abcdef', now(), null, encode(sha256(k::text::bytea), 'hex')
from generate_series(1, __ROWS__) k;
