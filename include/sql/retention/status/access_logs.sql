-- Per source, access logs (by their last access): how many, the oldest, and the oldest not yet
-- past its source's policy (cutoffs: a JSON object source id -> cutoff, else default_cutoff;
-- '-infinity': kept forever).
SELECT r.source_id, count(*), min(r.at),
       min(r.at) FILTER (WHERE r.at >= coalesce((%(cutoffs)s::jsonb ->> r.source_id)::timestamptz,
                                                %(default_cutoff)s::timestamptz))
FROM (
    SELECT s.source_id, l.created_at AS at
    FROM audit.access_logs l JOIN audit.sources s ON s.source_uuid = l.scraper_id
) r
GROUP BY r.source_id
ORDER BY r.source_id NULLS FIRST
