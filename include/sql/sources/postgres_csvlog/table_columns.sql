-- The columns of the csvlog table, in order: the docs' postgres_log layout differs by server
-- version (PostgreSQL 13 has no leader_pid and query_id), so the select names only what exists.
-- The table is a parameter (its quoted name cast to regclass), never spliced into the text.
SELECT a.attname::text
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = %(table)s::regclass
  AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY a.attnum
