SELECT pg_advisory_lock(hashtext('access_warehouse.migrations'))
