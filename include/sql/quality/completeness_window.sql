-- The completeness rows of one source, newest first (for tests and the demo).
SELECT batch_id, source_id, dag_id, run_id, window_start, window_end, lookback, asked,
       source_said, source_count, extracted, loaded, quarantined, excluded, status, problems,
       recorded_at
FROM dq.completeness
WHERE source_id = %(source_id)s
ORDER BY recorded_at DESC, batch_id
