INSERT INTO dq.expectation_results (validation_id, expectation, column_name, success,
                                    unexpected_count, details, suite_name, level, severity,
                                    evaluated, unexpected_percent, observed_value)
VALUES (%(validation_id)s, %(expectation)s, %(column_name)s, %(success)s, %(unexpected_count)s,
        %(details)s, %(suite_name)s, %(level)s, %(severity)s, %(evaluated)s,
        %(unexpected_percent)s, %(observed_value)s)
