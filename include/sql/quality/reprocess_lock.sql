-- One re-processing of a source at a time (a session lock, held across its load): two at once
-- would land the same quarantined records twice and both write their outcome back.
SELECT pg_advisory_lock(hashtextextended('reprocess_quarantine:' || %(source_id)s, 0))
