-- One extract window of the query log: [start, end) on event_time_microseconds, UTC.
-- /*columns*/ is the kind's fixed column list (code, not config); the table and the window are
-- server-side bound parameters, never spliced. event_date (the partition key, in the server's
-- time zone: one day of margin either side) and event_time (the sorting key) let the server
-- prune parts; event_time_microseconds is the exact bound. Columns are named through the alias
-- `log` because select aliases of the same name (converted to text) would shadow them here.
-- QueryStart rows are not read: every query that starts also writes a QueryFinish or
-- ExceptionWhileProcessing row with the same fields and its outcome.
SELECT /*columns*/
FROM {database:Identifier}.{table:Identifier} AS log
WHERE log.event_date >= toDate({start:DateTime64(6, 'UTC')}) - 1
  AND log.event_date <= toDate({end:DateTime64(6, 'UTC')}) + 1
  AND log.event_time >= toDateTime({start:DateTime64(6, 'UTC')})
  AND log.event_time <= toDateTime({end:DateTime64(6, 'UTC')})
  AND log.event_time_microseconds >= {start:DateTime64(6, 'UTC')}
  AND log.event_time_microseconds < {end:DateTime64(6, 'UTC')}
  AND log.type != 'QueryStart'
ORDER BY log.event_time_microseconds, log.query_id, log.type
