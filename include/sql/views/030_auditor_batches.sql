-- Every load: what was asked (window or bookmark range), extracted, loaded, quarantined.
DROP VIEW IF EXISTS auditor.batches CASCADE;
CREATE VIEW auditor.batches AS
SELECT source_id, window_start, window_end, bookmark_from, bookmark_to, extracted, loaded,
       quarantined, excluded, inserted, updated, unchanged, duration_s, loaded_at, batch_hash,
       -- the chain, so that an auditor can check an evidence pack's chain head
       batch_id, sequence_no, prev_hash
FROM audit.batches;

GRANT SELECT ON auditor.batches TO auditor_readonly;
