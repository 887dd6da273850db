-- The same bad record seen again by a rerun is kept once, with the batch that first saw it,
-- and an open one is left as it is. Two cases update it, with a 'kept' history row: a
-- re-processing batch (quality/reprocess.py) that finds it bad again sets its new reasons and
-- counts the attempt; a load that finds a released record bad again puts it back in
-- quarantine, so that a record held back always has an open row.
WITH incoming AS (
    SELECT DISTINCT ON (payload_hash) record_key, payload_hash, payload, raw, reasons
    FROM staging_quarantine
    ORDER BY payload_hash
), before AS (
    SELECT q.quarantine_id, q.reasons, q.released_at
    FROM dq.quarantine q
    JOIN incoming i ON i.payload_hash = q.payload_hash
    WHERE q.source_id = %(source_id)s
), stored AS (
    INSERT INTO dq.quarantine AS q (source_id, batch_id, record_key, payload_hash, payload, raw,
                                    reasons)
    SELECT %(source_id)s, %(batch_id)s, record_key, payload_hash, payload, raw, reasons
    FROM incoming
    ON CONFLICT (source_id, payload_hash) DO UPDATE
    SET reasons = EXCLUDED.reasons,
        reprocessed = q.reprocessed + CASE WHEN %(reprocessing)s THEN 1 ELSE 0 END,
        released_at = NULL,
        released_batch_id = NULL
    WHERE %(reprocessing)s OR q.released_at IS NOT NULL
    RETURNING q.quarantine_id, q.reasons
)
INSERT INTO dq.quarantine_history (quarantine_id, outcome, reasons, batch_id, note)
SELECT s.quarantine_id, 'kept', s.reasons, %(batch_id)s,
       CASE WHEN b.released_at IS NOT NULL
            THEN 'quarantined again by a load after its release at ' || b.released_at::text
            ELSE 'failed again when re-processed; reasons before: '
                 || array_to_string(b.reasons, '; ')
       END
FROM stored s
JOIN before b ON b.quarantine_id = s.quarantine_id
