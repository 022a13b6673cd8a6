-- credits.create's transaction (server/credits/create.handler.ts): insert the
-- projection row (ON CONFLICT DO NOTHING RETURNING id), then its `created`
-- event (RETURNING every column), one commit.
\set k random(1000000, 9000000000000000000)
BEGIN;
INSERT INTO bench_credits (id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key,
                           status, retirement_state, created_at, retired_at, version)
VALUES ('cc_' || lpad(to_hex(:k::bigint), 64, '0'), 'Bench Project 42', 'Verra', 2020, 100.5, 'PGB-C-' || :k, 'verra', 'pgb-c-' || :k,
        'active', 'none', now(), NULL, 1)
ON CONFLICT DO NOTHING RETURNING id \gset
INSERT INTO bench_events (credit_id, version, type, payload, actor, occurred_at, prev_hash, hash)
VALUES (:id, 1, 'created',
        '{"projectName":"Bench Project 42","registry":"Verra","vintage":2020,"quantity":"100.5","serialNumber":"PGB-C"}',
        'key_0123456789abcdef', now(), NULL, '6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b')
RETURNING position, credit_id, version, type, payload, actor, occurred_at, prev_hash, hash, tx_id;
END;
