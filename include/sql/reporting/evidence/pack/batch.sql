-- One batch of the chain, as it is now.
SELECT batch_id, sequence_no, source_id, batch_hash
FROM audit.batches
WHERE batch_id = %(batch_id)s
