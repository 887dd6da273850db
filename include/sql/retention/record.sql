-- One purge (or decision to keep), in the purge's transaction.
INSERT INTO etl.retention_runs (
    retention_run_id, enforcement_id, dag_id, run_id, family, table_name, partition_name,
    source_id, action, range_start, range_end, rows, kept_rows, kept_because, policy, details,
    dry_run, as_of, started_at)
VALUES (%(retention_run_id)s, %(enforcement_id)s, %(dag_id)s, %(run_id)s, %(family)s,
        %(table_name)s, %(partition_name)s, %(source_id)s, %(action)s, %(range_start)s,
        %(range_end)s, %(rows)s, %(kept_rows)s, %(kept_because)s, %(policy)s, %(details)s,
        %(dry_run)s, %(as_of)s, %(started_at)s)
