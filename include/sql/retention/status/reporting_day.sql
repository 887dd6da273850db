-- Per source, rows of a reporting day table: how many, the oldest, and the oldest not yet past
-- its source's policy (cutoffs: a JSON object source id -> cutoff, else default_cutoff;
-- '-infinity': kept forever).
SELECT r.source_id, count(*), min(r.at),
       min(r.at) FILTER (WHERE r.at >= coalesce((%(cutoffs)s::jsonb ->> r.source_id)::timestamptz,
                                                %(default_cutoff)s::timestamptz))
FROM (
    SELECT source_id, day::timestamp AT TIME ZONE 'UTC' AS at FROM {table}
) r
GROUP BY r.source_id
ORDER BY r.source_id NULLS FIRST
