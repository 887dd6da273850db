-- The UTC days this load changes for the reports (the Asset event's extra carries them): the
-- days of events it inserts or changes, the days changed events move away from, and the days
-- its coverage speaks for (the window; for a bookmark or file feed, from the source's previous
-- load to this extract), which change even when no event does.
SELECT coalesce(array_agg(DISTINCT day ORDER BY day), '{}')
FROM (
    SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day
    FROM staging_events
    WHERE change_kind IN ('new', 'changed')
    UNION ALL
    SELECT (previous_occurred_at AT TIME ZONE 'UTC')::date
    FROM staging_events
    WHERE change_kind = 'changed' AND previous_occurred_at IS NOT NULL
    UNION ALL
    SELECT covered::date
    FROM generate_series(
        (coalesce(%(window_start)s,
                  (SELECT max(extract_started_at) FROM audit.batches
                   WHERE source_id = %(source_id)s),
                  %(extracted_at)s) AT TIME ZONE 'UTC')::date,
        ((coalesce(%(window_end)s, %(extracted_at)s) - interval '1 microsecond')
            AT TIME ZONE 'UTC')::date,
        interval '1 day') AS covered
) days
