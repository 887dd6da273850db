-- Landed in one statement rather than page by page: the batch's counts are set at once.
UPDATE landing.extract_batches
SET pages = %(pages)s, records = %(records)s
WHERE batch_id = %(batch_id)s
