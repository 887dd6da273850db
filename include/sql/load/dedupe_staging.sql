-- The same event twice in one batch (overlapping streams or pages) is kept once.
DELETE FROM staging_events a
USING staging_events b
WHERE a.source_id = b.source_id
  AND a.event_id = b.event_id
  AND a.occurred_at = b.occurred_at
  AND a.ctid > b.ctid
