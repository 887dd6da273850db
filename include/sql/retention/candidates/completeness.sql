-- dq.completeness rows recorded before the cutoff; a hold keeps those of its sources whose
-- window overlaps its period (no window: every hold that starts before the record).
SELECT t.ctid AS row_id, t.source_id, t.recorded_at AS at, t.batch_id::text AS key,
       1 AS weight,
       'legal hold ' || h.hold_id AS kept_by
FROM dq.completeness t
LEFT JOIN LATERAL (
    SELECT etl.first_hold(%(holds)s::jsonb, t.source_id,
                          CASE WHEN t.window_start IS NOT NULL
                               THEN tstzrange(t.window_start, t.window_end)
                               ELSE tstzrange(NULL, t.recorded_at) END) AS hold_id
) h ON true
WHERE t.recorded_at < %(cutoff)s
  AND CASE WHEN %(source_id)s::text IS NULL THEN t.source_id <> ALL (%(overridden)s::text[])
           ELSE t.source_id = %(source_id)s::text END
