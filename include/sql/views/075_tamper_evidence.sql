-- Tamper evidence (README "Tamper evidence"): what auditors read of the manifest chain and of
-- the verifier's runs, and what the loading role needs beyond table privileges.

-- The manifest chain per source, so that an auditor can compare a chain head published
-- elsewhere (an evidence pack, a ticket, a write-once store) with the warehouse's.
DROP VIEW IF EXISTS auditor.manifests CASCADE;
CREATE VIEW auditor.manifests AS
SELECT source_id, entry_no, kind, batch_id, retention_run_id, window_start, window_end,
       bookmark_from, bookmark_to, row_count, content_sha256, removed_row_count,
       removed_sha256, recorded_at, prev_hash, entry_hash
FROM audit.manifests;

-- Every verifier run and what it found (the findings name sources, batches and windows only).
DROP VIEW IF EXISTS auditor.verifier_runs CASCADE;
CREATE VIEW auditor.verifier_runs AS
SELECT verifier_run_id, started_at, finished_at, source_id, dag_id, run_id, status,
       sources_checked, entries_checked, rows_checked, findings, chain_heads, error
FROM etl.verifier_runs;

GRANT SELECT ON auditor.manifests, auditor.verifier_runs TO auditor_readonly;

-- A load attaches the monthly partitions it needs; DDL is the owner's, so the function runs
-- with the owner's rights (a fixed name from a date, search_path pinned) and only the loading
-- role may call it. 005_partition_functions.sql creates it again on every apply, which resets
-- these attributes; this file runs after it.
ALTER FUNCTION audit.attach_access_event_partition(date)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE EXECUTE ON FUNCTION audit.attach_access_event_partition(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.attach_access_event_partition(date) TO warehouse_loader;
