-- One verifier run, written when it finished (the table is append-only for the loading role).
INSERT INTO etl.verifier_runs (
    verifier_run_id, started_at, finished_at, source_id, dag_id, run_id, status,
    sources_checked, entries_checked, rows_checked, findings, chain_heads, error)
VALUES (%(verifier_run_id)s, %(started_at)s, %(finished_at)s, %(source_id)s, %(dag_id)s,
        %(run_id)s, %(status)s, %(sources_checked)s, %(entries_checked)s, %(rows_checked)s,
        %(findings)s, %(chain_heads)s, %(error)s)
