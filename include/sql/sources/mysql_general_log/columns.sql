-- The columns the kind reads, without reading a row: checks the table and the reader's
-- privilege up front, and the type of event_time (TIMESTAMP: UTC in this session; DATETIME, in
-- a copy: local time in the source's timezone). The table is a checked identifier, quoted.
SELECT event_time, user_host, thread_id, server_id, command_type, argument
FROM {table}
LIMIT 0
