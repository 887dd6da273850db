-- What the committed load of a batch recorded (for a load run again after it committed); the
-- names are LoadSummary's.
SELECT extracted, loaded, quarantined, excluded, duplicates, inserted, updated, unchanged,
       new_users, new_config_items, coalesce((details->>'events')::int, 0) AS events,
       batch_hash, pages, window_start, window_end, bookmark_from, bookmark_to,
       ARRAY(SELECT jsonb_array_elements_text(coalesce(details->'touched_days', '[]')))
           AS touched_days
FROM audit.batches
WHERE batch_id = %(batch_id)s
