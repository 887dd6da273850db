-- Every load: what was asked (window or bookmark range), extracted, loaded, quarantined.
DROP VIEW IF EXISTS auditor.batches CASCADE;
CREATE VIEW auditor.batches AS
SELECT source_id, window_start, window_end, bookmark_from, bookmark_to, extracted, loaded,
       quarantined, excluded, inserted, updated, unchanged, duration_s, loaded_at, batch_hash
FROM audit.batches;

GRANT SELECT ON auditor.batches TO auditor_readonly;
