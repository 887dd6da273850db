UPDATE landing.extract_batches
SET status = %(status)s, finished_at = now(), error = %(error)s, request_stats = %(request_stats)s
WHERE batch_id = %(batch_id)s
