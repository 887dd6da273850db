-- The file lists of the chosen landing batches n in (lo, hi] (landing.processed_files, which
-- says which files each source has loaded, stays: without it files would load again).
DELETE FROM landing.batch_files f
USING retention_doomed d
WHERE d.n > %(lo)s AND d.n <= %(hi)s AND f.batch_id = d.key::uuid
