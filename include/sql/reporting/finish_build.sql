UPDATE reporting.builds
SET finished_at = clock_timestamp(), rows_written = %(rows_written)s, days = %(days)s
WHERE build_id = %(build_id)s
