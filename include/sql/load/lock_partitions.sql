SELECT pg_advisory_lock(hashtext('audit.access_events partitions'))
