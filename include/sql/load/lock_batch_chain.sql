-- The hash chain of audit.batches is global: serialise its writers.
SELECT pg_advisory_xact_lock(hashtext('audit.batches'))
