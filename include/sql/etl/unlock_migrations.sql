SELECT pg_advisory_unlock(hashtext('access_warehouse.migrations'))
