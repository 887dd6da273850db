-- Compare each staged event with the warehouse (after resolution) on its natural key
-- (source_id, event_id): 'new' (the default), 'same', 'changed' (content, time or resolution
-- differs; the previous resolution and time are kept so that the access log it used to count
-- towards is recomputed and a moved event leaves its old place), or 'stale' (the stored
-- content was extracted after this batch: it stays). Partitioned tables cannot return xmax,
-- so this is how inserts are told from updates. The search is bounded (see load.py) so that
-- partitions far from the batch are not read.
UPDATE staging_events s
SET change_kind = CASE
        WHEN e.extracted_at > %(extracted_at)s THEN 'stale'
        WHEN (e.occurred_at, e.content_hash, e.external_user_id, e.config_id)
             IS DISTINCT FROM (s.occurred_at, s.content_hash, s.external_user_id, s.config_id)
            THEN 'changed'
        ELSE 'same'
    END,
    previous_config_id = e.config_id,
    previous_external_user_id = e.external_user_id,
    previous_occurred_at = e.occurred_at
FROM audit.access_events e
WHERE e.source_id = s.source_id
  AND e.event_id = s.event_id
  AND e.occurred_at >= %(search_from)s
  AND e.occurred_at < %(search_to)s
