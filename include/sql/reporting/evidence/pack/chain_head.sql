-- The head of the batch chain: the latest audit.batches row, and how many there are.
SELECT b.sequence_no, b.batch_id, b.source_id, b.batch_hash, b.prev_hash, b.loaded_at,
       (SELECT count(*) FROM audit.batches) AS batches
FROM audit.batches b
ORDER BY b.sequence_no DESC
LIMIT 1
