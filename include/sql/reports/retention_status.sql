-- The demo's view of reporting.retention_status: per table and source, the policy, the oldest
-- row kept, whether the data is complete from there, the holds in force, the next purge date
-- and the note (landing: what can still be replayed).
SELECT table_name,
       source_id,
       policy || CASE policy_origin WHEN 'default' THEN '' ELSE ' (' || policy_origin || ')' END,
       to_char(oldest_kept AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
       CASE WHEN oldest_kept IS NULL THEN '-'
            WHEN complete_since_oldest THEN 'yes'
            ELSE 'from ' || to_char(complete_from AT TIME ZONE 'UTC', 'YYYY-MM-DD') END,
       cardinality(holds_in_force),
       next_purge,
       coalesce(note, '')
FROM reporting.retention_status
WHERE oldest_kept IS NOT NULL OR note IS NOT NULL OR last_purge_at IS NOT NULL
ORDER BY family, table_name, source_id
