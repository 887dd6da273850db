-- One extract window of csvlog rows. The column list and the table are composed by psycopg
-- (sql.Identifier of checked identifiers); the window bounds are parameters. Ordered like the
-- files so pages come in log order; the natural key breaks ties.
SELECT {columns}
FROM {table}
WHERE log_time >= %(start)s
  AND log_time < %(end)s
ORDER BY log_time, session_id, session_line_num
