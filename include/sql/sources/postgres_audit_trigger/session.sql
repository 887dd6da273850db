-- The reader's session: timestamps rendered in UTC, so the same row always lands as the same
-- text (a rerun must not change a content hash), and a name the source's DBA can recognise.
SELECT set_config('TimeZone', 'UTC', false), set_config('application_name', 'access_warehouse', false)
