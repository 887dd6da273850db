-- One load per source at a time: access_logs and the bookmark are per source.
SELECT pg_advisory_xact_lock(hashtext(%(source_id)s))
