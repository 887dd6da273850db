-- dq.completeness rows recorded before the cutoff; a hold keeps those of its sources whose
-- window overlaps its period (no window: every hold that starts before the record).
SELECT t.ctid AS row_id, t.source_id, t.recorded_at AS at, t.batch_id::text AS key,
       1 AS weight,
       'legal hold ' || h.hold_id AS kept_by
FROM dq.completeness t
LEFT JOIN LATERAL (
    SELECT h.hold_id
    FROM jsonb_to_recordset(%(holds)s::jsonb)
         AS h (hold_id text, period_start timestamptz, period_end timestamptz, sources text[])
    WHERE (cardinality(h.sources) = 0 OR t.source_id = ANY (h.sources))
      AND CASE WHEN t.window_start IS NOT NULL
               THEN tstzrange(t.window_start, t.window_end)
                    && tstzrange(h.period_start, h.period_end)
               ELSE h.period_start < t.recorded_at END
    ORDER BY h.hold_id
    LIMIT 1
) h ON true
WHERE t.recorded_at < %(cutoff)s
  AND CASE WHEN %(source_id)s::text IS NULL THEN t.source_id <> ALL (%(overridden)s::text[])
           ELSE t.source_id = %(source_id)s::text END
