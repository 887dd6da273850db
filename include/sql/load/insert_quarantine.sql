-- The same bad record seen again by a rerun is kept once, with the batch that first saw it.
INSERT INTO dq.quarantine (source_id, batch_id, record_key, payload_hash, payload, raw, reasons)
SELECT DISTINCT ON (payload_hash) %(source_id)s, %(batch_id)s, record_key, payload_hash, payload,
       raw, reasons
FROM staging_quarantine
ORDER BY payload_hash
ON CONFLICT (source_id, payload_hash) DO NOTHING
