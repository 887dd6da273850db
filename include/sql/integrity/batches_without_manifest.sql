-- Loads of a source the global batch chain records but no manifest entry does: every load
-- since migration 0012 writes one in its own transaction, and the migration wrote one for each
-- batch before it, so a missing entry was deleted.
SELECT b.batch_id, b.sequence_no, b.window_start, b.window_end
FROM audit.batches b
WHERE b.source_id = %(source_id)s
  AND NOT EXISTS (SELECT FROM audit.manifests m WHERE m.batch_id = b.batch_id)
ORDER BY b.sequence_no
