INSERT INTO dq.validation_runs (validation_id, batch_id, source_id, suite_name, success, evaluated,
                                failed_rows, dag_id, run_id, window_start, window_end, status,
                                warnings)
VALUES (%(validation_id)s, %(batch_id)s, %(source_id)s, %(suite_name)s, %(success)s,
        %(evaluated)s, %(failed_rows)s, %(dag_id)s, %(run_id)s, %(window_start)s, %(window_end)s,
        %(status)s, %(warnings)s)
