-- The source's loaded time windows before this one, newest first, one row per window (its
-- latest load): records the source gave per hour, for the volume and no-events checks.
SELECT extracted, extract(epoch FROM window_end - window_start)::float8 / 3600.0 AS hours
FROM (
    SELECT DISTINCT ON (window_start, window_end) extracted, window_start, window_end
    FROM audit.batches
    WHERE source_id = %(source_id)s
      AND window_start < %(window_start)s
      AND window_end > window_start
      AND NOT coalesce((details ->> 'reprocessing')::boolean, false)
    ORDER BY window_start, window_end, sequence_no DESC
) AS windows
ORDER BY window_end DESC
LIMIT %(history)s
