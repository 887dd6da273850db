-- What the committed load of a batch recorded (for a load run again after it committed).
SELECT b.extracted, b.loaded, b.quarantined, b.excluded, b.duplicates, b.inserted, b.updated,
       b.unchanged, b.new_users, b.new_config_items, coalesce((b.details->>'events')::int, 0),
       b.batch_hash, b.pages, b.window_start, b.window_end, b.bookmark_from, b.bookmark_to
FROM audit.batches b
WHERE b.batch_id = %(batch_id)s
