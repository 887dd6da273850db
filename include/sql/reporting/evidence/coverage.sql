-- Per source and day of the review period: whether the reports can speak for it
-- (reporting.source_days: status, evaluable, the share of the day complete windows cover, why
-- not) and what the extracts did that day (dq.daily_summary). Every source of audit.sources
-- has a row for every day: status not_reported where no reporting build assessed the day.
WITH days AS (
    SELECT d::date AS day
    FROM generate_series(%(period_start)s::date::timestamp, %(period_end)s::date::timestamp,
                         interval '1 day') AS d
),
sources AS (
    SELECT source_id FROM audit.sources
    UNION
    SELECT source_id FROM reporting.source_days
    WHERE day BETWEEN %(period_start)s::date AND %(period_end)s::date
    UNION
    SELECT source_id FROM dq.daily_summary
    WHERE day BETWEEN %(period_start)s::date AND %(period_end)s::date
)
SELECT s.source_id,
       d.day,
       coalesce(sd.status, 'not_reported') AS status,
       coalesce(sd.evaluable, false) AS evaluable,
       sd.covered_share,
       CASE WHEN sd.status IS NULL THEN 'no reporting build assessed this day'
            ELSE sd.reason END AS reason,
       sd.build_id,
       sd.built_at,
       dq.status AS extract_status,
       coalesce(dq.batches, 0) AS batches,
       coalesce(dq.windows, 0) AS windows,
       coalesce(dq.extracted, 0) AS extracted,
       coalesce(dq.loaded, 0) AS loaded,
       coalesce(dq.quarantined, 0) AS quarantined,
       coalesce(dq.excluded, 0) AS excluded,
       coalesce(dq.failed_validations, 0) AS failed_validations,
       coalesce(dq.failed_expectations, 0) AS failed_expectations,
       coalesce(dq.problems, '{}') AS problems
FROM sources s
CROSS JOIN days d
LEFT JOIN reporting.source_days sd ON sd.source_id = s.source_id AND sd.day = d.day
LEFT JOIN dq.daily_summary dq ON dq.source_id = s.source_id AND dq.day = d.day
ORDER BY s.source_id COLLATE "C", d.day
