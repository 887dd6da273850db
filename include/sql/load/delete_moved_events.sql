-- An event whose time changed (the same id at another occurred_at) leaves its old row: the
-- natural key is (source_id, event_id), occurred_at is in the primary key only for partitioning.
DELETE FROM audit.access_events e
USING staging_events s
WHERE s.change_kind = 'changed'
  AND s.previous_occurred_at <> s.occurred_at
  AND e.source_id = s.source_id
  AND e.event_id = s.event_id
  AND e.occurred_at = s.previous_occurred_at
