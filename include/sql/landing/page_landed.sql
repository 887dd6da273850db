-- A bookmark feed's page carries the position of its last record: the batch ends there.
UPDATE landing.extract_batches
SET pages = pages + 1, records = records + %(records)s,
    bookmark_to = coalesce(%(position)s, bookmark_to)
WHERE batch_id = %(batch_id)s
