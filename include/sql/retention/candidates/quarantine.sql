-- dq.quarantine rows (released or still open) quarantined before the cutoff; a legal hold
-- keeps those of its sources whose batch window overlaps its period (a batch without a
-- window: every hold that starts before the record was quarantined).
SELECT t.ctid AS row_id, t.source_id, t.quarantined_at AS at, t.quarantine_id::text AS key,
       1 AS weight,
       'legal hold ' || h.hold_id AS kept_by
FROM dq.quarantine t
LEFT JOIN dq.completeness w ON w.batch_id = t.batch_id
LEFT JOIN LATERAL (
    SELECT etl.first_hold(%(holds)s::jsonb, t.source_id,
                          CASE WHEN w.window_start IS NOT NULL
                               THEN tstzrange(w.window_start, w.window_end)
                               ELSE tstzrange(NULL, t.quarantined_at) END) AS hold_id
) h ON true
WHERE t.quarantined_at < %(cutoff)s
  AND CASE WHEN %(source_id)s::text IS NULL THEN t.source_id <> ALL (%(overridden)s::text[])
           ELSE t.source_id = %(source_id)s::text END
