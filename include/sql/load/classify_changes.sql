-- Compare each staged event with the warehouse (after resolution): 'new' (the default), 'same',
-- or 'changed' (content or resolution differs; the previous resolution is kept so that the
-- access log it used to count towards is recomputed too). Partitioned tables cannot return
-- xmax, so this is how inserts are told from updates.
UPDATE staging_events s
SET change_kind = CASE
        WHEN (e.content_hash, e.external_user_id, e.config_id)
             IS DISTINCT FROM (s.content_hash, s.external_user_id, s.config_id) THEN 'changed'
        ELSE 'same'
    END,
    previous_config_id = e.config_id,
    previous_external_user_id = e.external_user_id
FROM audit.access_events e
WHERE e.source_id = s.source_id
  AND e.event_id = s.event_id
  AND e.occurred_at = s.occurred_at
