-- One batch of the chain, as it is now (through the auditor view: an auditor_readonly login
-- verifies a pack too).
SELECT batch_id, sequence_no, source_id, batch_hash
FROM auditor.batches
WHERE batch_id = %(batch_id)s
