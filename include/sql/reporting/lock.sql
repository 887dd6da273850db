-- One reporting build at a time: two builds of the same day would delete each other's rows.
SELECT pg_advisory_xact_lock(hashtext('access_warehouse.reporting'))
