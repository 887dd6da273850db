-- One retention run at a time (a second one finds the lock taken and stops).
SELECT pg_try_advisory_lock(hashtext('access_retention'))
