-- The expectation results of the chosen validation runs n in (lo, hi].
WITH results AS (
    DELETE FROM dq.expectation_results x
    USING retention_doomed d
    WHERE d.n > %(lo)s AND d.n <= %(hi)s AND x.validation_id = d.key::uuid
    RETURNING 1
)
SELECT count(*) FROM results
