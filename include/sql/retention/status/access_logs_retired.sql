-- Per source, what access logs keep of removed events (by its last access): how many, the
-- oldest, and the oldest not yet past its source's policy (cutoffs: a JSON object source id ->
-- cutoff, else default_cutoff; '-infinity': kept forever).
SELECT r.source_id, count(*), min(r.at),
       min(r.at) FILTER (WHERE r.at >= coalesce((%(cutoffs)s::jsonb ->> r.source_id)::timestamptz,
                                                %(default_cutoff)s::timestamptz))
FROM (
    SELECT source_id, last_at AS at FROM audit.access_logs_retired
) r
GROUP BY r.source_id
ORDER BY r.source_id NULLS FIRST
