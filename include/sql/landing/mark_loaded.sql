UPDATE landing.extract_batches SET status = 'loaded' WHERE batch_id = %(batch_id)s
