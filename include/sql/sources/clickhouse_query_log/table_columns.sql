-- The columns the query log table has (they vary by server version), so the window query
-- selects the ones this kind reads that the server writes. Bound parameters only.
SELECT name
FROM system.columns
WHERE database = {database:String}
  AND table = {table:String}
ORDER BY position
