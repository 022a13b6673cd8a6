-- credits.list (server/credits/credit-store.ts pageCredits): one page, keyset
-- after a random cursor, 50 rows and one more to tell whether a next page exists.
\set k random(1, :rows)
SELECT id, project_name, registry, vintage, quantity, serial_number, registry_key, serial_key, status, retirement_state,
       created_at, retired_at, version
FROM bench_credits
WHERE (created_at, id) > ('2026-01-01T00:00:00Z'::timestamptz + :k::int * interval '1 millisecond', 'cc_' || lpad(to_hex(:k::bigint), 64, '0'))
ORDER BY created_at, id LIMIT 51;
