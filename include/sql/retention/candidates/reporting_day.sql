-- Rows of a reporting table keyed by day and source ({table}) for days before the cutoff's;
-- a hold keeps the days of its period for its sources.
SELECT t.ctid AS row_id, t.source_id, t.day::timestamp AT TIME ZONE 'UTC' AS at,
       NULL::text AS key, 1 AS weight,
       'legal hold ' || h.hold_id AS kept_by
FROM {table} t
LEFT JOIN LATERAL (
    SELECT etl.first_hold(%(holds)s::jsonb, t.source_id,
                          tstzrange(t.day::timestamp AT TIME ZONE 'UTC',
                          (t.day + 1)::timestamp AT TIME ZONE 'UTC')) AS hold_id
) h ON true
WHERE t.day < (%(cutoff)s::timestamptz AT TIME ZONE 'UTC')::date
  AND CASE WHEN %(source_id)s::text IS NULL THEN t.source_id <> ALL (%(overridden)s::text[])
           ELSE t.source_id = %(source_id)s::text END
