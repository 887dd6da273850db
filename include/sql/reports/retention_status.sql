-- The demo's view of reporting.retention_status, one line per table over its sources: the
-- policies, how many sources, the oldest row kept, whether every source's data is complete
-- from there, the holds in force, the next purge date and a note (landing: what can still be
-- replayed). The view itself has one row per table and source.
SELECT table_name,
       string_agg(DISTINCT policy || CASE policy_origin WHEN 'default' THEN ''
                                         ELSE ' (' || policy_origin || ')' END, ', '),
       count(source_id),
       to_char(min(oldest_kept) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
       CASE WHEN bool_and(oldest_kept IS NULL) THEN '-'
            WHEN bool_and(complete_since_oldest OR oldest_kept IS NULL) THEN 'yes'
            ELSE 'not every source' END,
       sum(cardinality(holds_in_force)),
       min(next_purge),
       coalesce(max(note), '')
FROM reporting.retention_status
WHERE oldest_kept IS NOT NULL OR note IS NOT NULL OR last_purge_at IS NOT NULL
GROUP BY family, table_name
ORDER BY family, table_name
