-- Completeness evidence: the rows of the window, counted just before select_window.sql reads
-- them, with the same predicate and bound parameters. mysql.general_log is a CSV table (no
-- transactions, no snapshot): rows the server writes between the count and the read (this
-- reader's own statements among them) can make the read return more rows than counted, never
-- fewer, unless rows were lost. The table is a checked identifier, quoted.
SELECT count(*)
FROM {table}
WHERE event_time >= %(start)s
  AND event_time < %(end)s
