-- The demo's data-quality view: per source, the expectations and checks of its latest
-- validation that did not hold (warnings included), with what was observed.
WITH latest AS (
    SELECT DISTINCT ON (source_id, suite_name) validation_id, source_id, suite_name
    FROM dq.validation_runs
    ORDER BY source_id, suite_name, run_at DESC
)
SELECT l.source_id, l.suite_name, r.expectation, r.severity, r.level, r.unexpected_count,
       left(r.observed_value::text, 40)
FROM latest l
JOIN dq.expectation_results r USING (validation_id)
WHERE NOT r.success
ORDER BY l.source_id, r.level, r.expectation
