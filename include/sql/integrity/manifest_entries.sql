-- A source's manifest chain in order, each entry with the hash its fields give now.
SELECT m.entry_no, m.kind, m.batch_id, m.retention_run_id, m.window_start, m.window_end,
       m.bookmark_from, m.bookmark_to, m.row_count, m.content_sha256, m.lanes,
       m.removed_row_count, m.removed_sha256, m.removed, m.recorded_at, m.prev_hash,
       m.entry_hash, audit.manifest_entry_hash(m) AS recomputed_hash
FROM audit.manifests m
WHERE m.source_id = %(source_id)s
ORDER BY m.entry_no
