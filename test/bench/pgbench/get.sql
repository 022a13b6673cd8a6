-- credits.get (server/credits/read.handlers.ts): the credit's row, then its
-- events oldest first; two statements, no explicit transaction.
\set k random(1, :rows)
SELECT id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key, status, retirement_state,
       created_at, retired_at, version
FROM bench_credits WHERE id IN ('cc_' || lpad(to_hex(:k::bigint), 64, '0'));
SELECT position, credit_id, version, type, payload, actor, occurred_at, prev_hash, hash, tx_id
FROM bench_events WHERE credit_id = 'cc_' || lpad(to_hex(:k::bigint), 64, '0') ORDER BY version;
