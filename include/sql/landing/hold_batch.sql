-- The extracting session holds this lock until it ends (its connection closes, or it dies):
-- a batch still 'extracting' whose lock is free was abandoned.
SELECT pg_advisory_lock(('x' || substr(md5(%(batch_id)s::text), 1, 16))::bit(64)::bigint)
