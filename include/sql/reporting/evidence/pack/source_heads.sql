-- The head of each source's chain: its latest audit.batches row.
SELECT DISTINCT ON (source_id COLLATE "C")
       source_id, sequence_no, batch_id, batch_hash, prev_hash, loaded_at
FROM audit.batches
ORDER BY source_id COLLATE "C", sequence_no DESC
