-- dq.validation_runs run before the cutoff; a hold keeps those of its sources whose window
-- overlaps its period (no window: every hold that starts before the run).
SELECT t.ctid AS row_id, t.source_id, t.run_at AS at, t.validation_id::text AS key,
       1 AS weight,
       'legal hold ' || h.hold_id AS kept_by
FROM dq.validation_runs t
LEFT JOIN LATERAL (
    SELECT etl.first_hold(%(holds)s::jsonb, t.source_id,
                          CASE WHEN t.window_start IS NOT NULL
                               THEN tstzrange(t.window_start, t.window_end)
                               ELSE tstzrange(NULL, t.run_at) END) AS hold_id
) h ON true
WHERE t.run_at < %(cutoff)s
  AND CASE WHEN %(source_id)s::text IS NULL THEN t.source_id <> ALL (%(overridden)s::text[])
           ELSE t.source_id = %(source_id)s::text END
