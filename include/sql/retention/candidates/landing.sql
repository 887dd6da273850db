-- landing.extract_batches older than the policy (by when they were landed), with why one
-- stays (kept_by): a legal hold on its window (a bookmark or file batch, which may hold
-- events of any earlier time, for every hold that starts before it was landed), an extract
-- still running, or a batch never loaded (its records exist nowhere else).
-- Parameters: cutoff, source_id (NULL: every source not in overridden), overridden, holds.
SELECT t.ctid AS row_id, t.source_id, t.started_at AS at, t.batch_id::text AS key,
       t.records + 1 AS weight,
       CASE WHEN h.hold_id IS NOT NULL THEN 'legal hold ' || h.hold_id
            WHEN t.status = 'extracting' THEN 'extract still running'
            WHEN t.status = 'extracted' THEN 'never loaded: its records exist nowhere else'
       END AS kept_by
FROM landing.extract_batches t
LEFT JOIN LATERAL (
    SELECT etl.first_hold(%(holds)s::jsonb, t.source_id,
                          CASE WHEN t.window_start IS NOT NULL
                               THEN tstzrange(t.window_start, t.window_end)
                               ELSE tstzrange(NULL, t.started_at) END) AS hold_id
) h ON true
WHERE t.started_at < %(cutoff)s
  AND CASE WHEN %(source_id)s::text IS NULL THEN t.source_id <> ALL (%(overridden)s::text[])
           ELSE t.source_id = %(source_id)s::text END
