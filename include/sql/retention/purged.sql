-- Per table and source, what enforcing runs removed: rows, the end of the newest range
-- (data from there on is complete), the latest purge. '*': a purge of rows of no source.
SELECT r.table_name, coalesce(src.key, '*') AS source_id,
       sum(coalesce((src.value ->> 'rows')::bigint, r.rows)),
       max(r.range_end), max(r.finished_at)
FROM etl.retention_runs r
LEFT JOIN LATERAL jsonb_each(r.details -> 'sources') AS src ON true
WHERE NOT r.dry_run AND r.rows > 0
GROUP BY 1, 2
