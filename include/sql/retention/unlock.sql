SELECT pg_advisory_unlock(hashtext('access_retention'))
