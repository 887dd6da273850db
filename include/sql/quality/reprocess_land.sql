-- The chosen records land as they landed the first time: the payload, or the raw bytes of a
-- record jsonb could not hold (its quarantine payload is only a readable stand-in).
INSERT INTO landing.records (batch_id, page_no, record_no, payload, raw)
SELECT %(batch_id)s, page_no, record_no, CASE WHEN raw IS NULL THEN payload END, raw
FROM reprocess_chosen
