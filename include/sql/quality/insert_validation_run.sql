INSERT INTO dq.validation_runs (validation_id, batch_id, source_id, suite_name, success, evaluated,
                                failed_rows)
VALUES (%(validation_id)s, %(batch_id)s, %(source_id)s, %(suite_name)s, %(success)s,
        %(evaluated)s, %(failed_rows)s)
