-- Records of a loaded re-processing batch that its load did not quarantine again leave
-- quarantine (all of them, or those of ``ids``): the row stays, with when and by which batch,
-- and a 'released' history row keeps the reasons it was held for.
WITH released AS (
    UPDATE dq.quarantine q
    SET released_at = now(), released_batch_id = %(batch_id)s, reprocessed = q.reprocessed + 1
    FROM dq.reprocess_records r
    WHERE r.batch_id = %(batch_id)s
      AND q.quarantine_id = r.quarantine_id
      AND q.released_at IS NULL
      AND (%(ids)s::bigint[] IS NULL OR q.quarantine_id = ANY (%(ids)s::bigint[]))
      AND NOT EXISTS (SELECT 1 FROM dq.quarantine_history h
                      WHERE h.quarantine_id = q.quarantine_id AND h.batch_id = %(batch_id)s)
    RETURNING q.quarantine_id, q.reasons
)
INSERT INTO dq.quarantine_history (quarantine_id, outcome, reasons, batch_id, note)
SELECT quarantine_id, 'released', reasons, %(batch_id)s, %(note)s
FROM released
