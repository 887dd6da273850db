-- Completeness evidence: the rows of the window, counted in the read's own snapshot (the same
-- REPEATABLE READ transaction as select_window.sql, the same predicate), so the count and the
-- rows read agree exactly. The table is composed by psycopg; the bounds are parameters.
SELECT count(*)
FROM {table}
WHERE log_time >= %(start)s
  AND log_time < %(end)s
