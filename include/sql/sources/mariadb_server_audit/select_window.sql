-- One extract window of server_audit rows, in the layout of the kind's doc (the file's fields,
-- the object unescaped). {table} is the configured name, checked as plain identifiers and
-- quoted with backticks by the caller; the bounds are parameters (naive server-local times
-- that enclose the window; the rows are then filtered exactly in the configured zone).
SELECT `timestamp`, `serverhost`, `username`, `host`, `connectionid`, `queryid`, `operation`,
       `database`, `object`, `retcode`
FROM {table}
WHERE `timestamp` >= %(start)s
  AND `timestamp` < %(end)s
ORDER BY `timestamp`, `serverhost`, `connectionid`, `queryid`
