-- One row per attempt: complete with its counts, or failed with the error (no account rows).
INSERT INTO audit.population_snapshots (
    snapshot_id, population_id, dag_id, run_id, taken_at, status, accounts, added, changed,
    removed, asked, source_said, error)
VALUES (
    %(snapshot_id)s, %(population_id)s, %(dag_id)s, %(run_id)s, %(taken_at)s, %(status)s,
    %(accounts)s, %(added)s, %(changed)s, %(removed)s, %(asked)s, %(source_said)s, %(error)s)
