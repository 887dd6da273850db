-- In the load's transaction: the files this batch read are loaded (a later batch's state of a
-- file is not overwritten by an older batch loaded late).
INSERT INTO landing.processed_files AS p (source_id, path, size, modified_at, sha256, records,
                                          batch_id)
SELECT %(source_id)s, f.path, f.size, f.modified_at, f.sha256, f.records, f.batch_id
FROM landing.batch_files f
WHERE f.batch_id = %(batch_id)s
ON CONFLICT (source_id, path) DO UPDATE
SET size = EXCLUDED.size, modified_at = EXCLUDED.modified_at, sha256 = EXCLUDED.sha256,
    records = EXCLUDED.records, batch_id = EXCLUDED.batch_id, loaded_at = now()
WHERE p.modified_at IS NULL OR EXCLUDED.modified_at IS NULL
   OR p.modified_at <= EXCLUDED.modified_at
