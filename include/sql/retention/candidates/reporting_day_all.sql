-- Rows of a reporting table keyed by day over every source ({table}: mfa_coverage, bursts)
-- for days before the cutoff's (the family's longest policy); any hold on the day keeps them.
SELECT t.ctid AS row_id, NULL::text AS source_id, t.day::timestamp AT TIME ZONE 'UTC' AS at,
       NULL::text AS key, 1 AS weight,
       'legal hold ' || h.hold_id AS kept_by
FROM {table} t
LEFT JOIN LATERAL (
    SELECT etl.first_hold(%(holds)s::jsonb, NULL,
                          tstzrange(t.day::timestamp AT TIME ZONE 'UTC',
                          (t.day + 1)::timestamp AT TIME ZONE 'UTC')) AS hold_id
) h ON true
WHERE t.day < (%(cutoff)s::timestamptz AT TIME ZONE 'UTC')::date
