SELECT pg_advisory_unlock(hashtextextended('reprocess_quarantine:' || %(source_id)s, 0))
