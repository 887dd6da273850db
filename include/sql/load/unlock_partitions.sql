SELECT pg_advisory_unlock(hashtext('audit.access_events partitions'))
