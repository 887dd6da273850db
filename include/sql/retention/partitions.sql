-- The partitions of audit.access_events with their bounds [range_start, range_end), oldest
-- first (a DEFAULT partition, which has no bounds, is never a candidate).
SELECT c.relname,
       substring(pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \(''([^'']+)''\)')::timestamptz,
       substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')::timestamptz
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'audit.access_events'::regclass
  AND pg_get_expr(c.relpartbound, c.oid) LIKE 'FOR VALUES FROM %%'
ORDER BY 2
