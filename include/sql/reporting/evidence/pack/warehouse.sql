-- Which warehouse the pack was read from, and the moment its read transaction started (every
-- file shows the warehouse as it was then).
SELECT current_database() AS database,
       current_setting('server_version') AS server_version,
       current_setting('server_version_num')::integer AS server_version_num,
       current_user AS database_user,
       now() AS read_at
