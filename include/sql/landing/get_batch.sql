SELECT batch_id, source_id, source_kind, status, window_start, window_end, pages, records,
       bookmark_from, bookmark_to, started_at, request_stats
FROM landing.extract_batches
WHERE batch_id = %(batch_id)s
FOR UPDATE
