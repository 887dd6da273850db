-- What the landing batch of an extract attempt stored: its window or bookmark, pages, records
-- and the fetch's request statistics (what it asked, what the source said).
SELECT batch_id, source_id, source_kind, dag_id, run_id, window_start, window_end, lookback,
       bookmark_from, bookmark_to, pages, records, status, error, request_stats
FROM landing.extract_batches
WHERE batch_id = %(batch_id)s
