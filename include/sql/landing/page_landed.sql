UPDATE landing.extract_batches
SET pages = pages + 1, records = records + %(records)s
WHERE batch_id = %(batch_id)s
