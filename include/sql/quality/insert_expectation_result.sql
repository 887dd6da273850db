INSERT INTO dq.expectation_results (validation_id, expectation, column_name, success,
                                    unexpected_count, details)
VALUES (%(validation_id)s, %(expectation)s, %(column_name)s, %(success)s, %(unexpected_count)s,
        %(details)s)
