-- Re-processing batches of the source whose load committed but whose outcome was not written
-- back (the run stopped in between): their records are still open and have no history row of
-- the batch.
SELECT DISTINCT r.batch_id, b.excluded
FROM dq.reprocess_records r
JOIN audit.batches b ON b.batch_id = r.batch_id
JOIN dq.quarantine q ON q.quarantine_id = r.quarantine_id
WHERE q.source_id = %(source_id)s
  AND q.released_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM dq.quarantine_history h
                  WHERE h.quarantine_id = r.quarantine_id AND h.batch_id = r.batch_id)
