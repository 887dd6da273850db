-- The records of a loaded re-processing batch that its load did not quarantine again (those
-- have a 'kept' history row of the batch): they loaded or were excluded by configuration.
SELECT q.quarantine_id, q.payload
FROM dq.reprocess_records r
JOIN dq.quarantine q ON q.quarantine_id = r.quarantine_id
WHERE r.batch_id = %(batch_id)s
  AND q.released_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM dq.quarantine_history h
                  WHERE h.quarantine_id = q.quarantine_id AND h.batch_id = %(batch_id)s)
ORDER BY q.quarantine_id
