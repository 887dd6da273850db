-- What a purge would remove and what it keeps past its policy, per source and reason.
SELECT c.source_id, c.kept_by, count(*), sum(c.weight), min(c.at), max(c.at)
FROM ({candidates}) c
GROUP BY c.source_id, c.kept_by
ORDER BY c.source_id NULLS FIRST, c.kept_by NULLS FIRST
