-- One retirement step (server/credits/command-handler.ts, as the API's
-- retire request and the worker each run it): lock timeout, SELECT … FOR
-- UPDATE on the row, read the credit's events, append one event, write the
-- row back (INSERT … ON CONFLICT (id) DO UPDATE), one commit.
\set k random(1, :rows)
BEGIN;
SET LOCAL lock_timeout = 5000;
SELECT id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key, status, retirement_state,
       created_at, version
FROM bench_credits WHERE id = 'cc_' || lpad(to_hex(:k::bigint), 64, '0') FOR UPDATE \gset c_
SELECT position, credit_id, version, type, payload, actor, occurred_at, prev_hash, hash, tx_id
FROM bench_events WHERE credit_id = :c_id ORDER BY version;
\set v :c_version + 1
INSERT INTO bench_events (credit_id, version, type, payload, actor, occurred_at, prev_hash, hash)
VALUES (:c_id, :v, 'retirement_requested', '{"beneficiary":"Bench Corp","reason":"benchmark"}', 'key_0123456789abcdef', now(),
        '6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b', 'd4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35')
RETURNING position, credit_id, version, type, payload, actor, occurred_at, prev_hash, hash, tx_id;
INSERT INTO bench_credits (id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key,
                           status, retirement_state, created_at, retired_at, version)
VALUES (:c_id, :c_project_name, :c_registry, :c_vintage, :c_quantity, :c_serial_number, :c_registry_key, :c_serial_key,
        'active', 'pending', :c_created_at, NULL, :v)
ON CONFLICT (id) DO UPDATE SET project_name = excluded.project_name, registry = excluded.registry, vintage = excluded.vintage,
  quantity = excluded.quantity, serial_number = excluded.serial_number, registry_key = excluded.registry_key,
  serial_key = excluded.serial_key, status = excluded.status, retirement_state = excluded.retirement_state,
  created_at = excluded.created_at, retired_at = excluded.retired_at, version = excluded.version;
END;
