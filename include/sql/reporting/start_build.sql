INSERT INTO reporting.builds (build_id, trigger, dag_id, run_id, days, as_of, started_at)
VALUES (%(build_id)s, %(trigger)s, %(dag_id)s, %(run_id)s, %(days)s, %(as_of)s, %(built_at)s)
