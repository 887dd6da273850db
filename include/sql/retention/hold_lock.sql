-- While a purge runs, no hold is set or released (the guard on etl.legal_holds takes this
-- lock exclusively): the holds it reads stay the holds in force until it commits.
SELECT pg_advisory_xact_lock_shared(hashtext('etl.legal_holds'))
