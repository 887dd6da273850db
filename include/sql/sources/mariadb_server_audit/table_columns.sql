-- The columns of the server_audit table and their types (the window compares `timestamp` as
-- DATETIME or as the file's text). The schema and table are bound parameters, never spliced;
-- without a schema the connection's own database is meant. Lists only what the reader may see.
SELECT column_name, data_type
FROM information_schema.columns
WHERE table_schema = COALESCE(%(schema)s, DATABASE())
  AND table_name = %(table)s
