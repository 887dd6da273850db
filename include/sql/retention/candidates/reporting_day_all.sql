-- Rows of a reporting table keyed by day over every source ({table}: mfa_coverage, bursts)
-- for days before the cutoff's (the family's longest policy); any hold on the day keeps them.
SELECT t.ctid AS row_id, NULL::text AS source_id, t.day::timestamp AT TIME ZONE 'UTC' AS at,
       NULL::text AS key, 1 AS weight,
       'legal hold ' || h.hold_id AS kept_by
FROM {table} t
LEFT JOIN LATERAL (
    SELECT h.hold_id
    FROM jsonb_to_recordset(%(holds)s::jsonb)
         AS h (hold_id text, period_start timestamptz, period_end timestamptz, sources text[])
    WHERE tstzrange(h.period_start, h.period_end)
          && tstzrange(t.day::timestamp AT TIME ZONE 'UTC',
                       (t.day + 1)::timestamp AT TIME ZONE 'UTC')
    ORDER BY h.hold_id
    LIMIT 1
) h ON true
WHERE t.day < (%(cutoff)s::timestamptz AT TIME ZONE 'UTC')::date
