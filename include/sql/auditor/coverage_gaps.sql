-- Which days can the reports not speak for, per source, in a period?
--
-- Parameters (psql variables):
--   :'from'  the first day of the period, YYYY-MM-DD (UTC)
--   :'to'    the last day of the period, YYYY-MM-DD (UTC), included
-- Run:
--   psql -v from=2026-11-01 -v to=2026-11-30 -f include/sql/auditor/coverage_gaps.sql
--
-- One row per source and reason, with the days: a source whose loaded, reconciled windows do
-- not cover a whole day (not extracted, partially extracted, failed, failed its checks, not
-- reconciled, older than the source keeps, removed by retention), or a day no report was
-- built for, from the first day the source reported anything. Every report counts nothing
-- for such a day: not zero, unknown. No row: every source covers every day of the period.
WITH sources AS (
    SELECT c.source_id AS source, min(c.first_day) AS since
    FROM reporting.source_categories c
    GROUP BY c.source_id
)
SELECT s.source,
       coalesce(c.status, 'no_report')                       AS status,
       coalesce(c.reason, 'no report was built for the day') AS reason,
       count(*)                                              AS days,
       string_agg(d.day::date::text, ', ' ORDER BY d.day)    AS which_days,
       min(c.covered_percent)                                AS least_covered_percent
FROM sources s
CROSS JOIN generate_series(greatest(:'from'::date, s.since), :'to'::date,
                           interval '1 day') AS d (day)
LEFT JOIN auditor.source_coverage c ON c.source = s.source AND c.day = d.day::date
WHERE c.evaluable IS NOT TRUE
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;
