-- One extract window of the general log: [start, end) on event_time, bound parameters only;
-- the table is a checked identifier, quoted. No ORDER BY: mysql.general_log is a CSV table
-- without indexes, read in the order the server wrote it (time order), streamed to the client
-- without a sort; the natural key, not the order, makes reruns exact.
SELECT event_time, user_host, thread_id, server_id, command_type, argument
FROM {table}
WHERE event_time >= %(start)s
  AND event_time < %(end)s
