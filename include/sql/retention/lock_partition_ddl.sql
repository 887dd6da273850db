-- A load that creates a month's partition holds this lock (load.ensure_partitions).
SELECT pg_advisory_xact_lock(hashtext('audit.access_events partitions'))
