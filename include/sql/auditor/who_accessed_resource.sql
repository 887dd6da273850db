-- Who accessed a resource in a period?
--
-- Parameters (psql variables):
--   :'resource'  the resource's name as auditor.daily_access shows it (Payroll, billing.invoices)
--   :'from'      the first day of the period, YYYY-MM-DD (UTC)
--   :'to'        the last day of the period, YYYY-MM-DD (UTC), included
-- Run:
--   psql -v resource=Payroll -v from=2026-11-01 -v to=2026-11-30 \
--        -f include/sql/auditor/who_accessed_resource.sql
--
-- One row per person who accessed the resource in the period, successfully or not: the days
-- with an access, successes and failures, successful accesses with MFA, without and where the
-- source cannot tell, the first and last time, the sources. Then one row per source of the
-- resource and reason for the days the reports cannot speak for (no person, evaluable false,
-- not_evaluable_because says which days and why): on those days accesses may have happened
-- that no row shows, so the people's rows are marked not evaluable too (their counts are a
-- lower bound, never the whole).
WITH sources AS (
    -- every source that has reported this resource, from the first day it reported anything
    SELECT a.source,
           coalesce((SELECT min(c.first_day) FROM reporting.source_categories c
                     WHERE c.source_id = a.source), min(a.day)) AS since
    FROM auditor.daily_access a
    WHERE a.resource = :'resource'
    GROUP BY a.source
),
gaps AS (
    SELECT s.source,
           coalesce(c.status, 'no_report') AS status,
           coalesce(c.reason, 'no report was built for the day') AS reason,
           string_agg(d.day::date::text, ', ' ORDER BY d.day) AS days
    FROM sources s
    CROSS JOIN generate_series(greatest(:'from'::date, s.since), :'to'::date,
                               interval '1 day') AS d (day)
    LEFT JOIN auditor.source_coverage c ON c.source = s.source AND c.day = d.day::date
    WHERE c.evaluable IS NOT TRUE
    GROUP BY 1, 2, 3
)
SELECT person, days_with_access, successes, failures, successes_with_mfa,
       successes_without_mfa, successes_mfa_unknown, first_at, last_at, sources, evaluable,
       not_evaluable_because
FROM (
    SELECT a.person,
           count(DISTINCT a.day)                  AS days_with_access,
           sum(a.successes)                       AS successes,
           sum(a.failures)                        AS failures,
           sum(a.with_mfa)                        AS successes_with_mfa,
           sum(a.without_mfa)                     AS successes_without_mfa,
           sum(a.mfa_unknown)                     AS successes_mfa_unknown,
           min(a.first_at)                        AS first_at,
           max(a.last_at)                         AS last_at,
           string_agg(DISTINCT a.source, ', ' ORDER BY a.source) AS sources,
           NOT EXISTS (SELECT FROM gaps)          AS evaluable,
           CASE WHEN EXISTS (SELECT FROM gaps) THEN
               'a lower bound: the sources do not cover every day of the period (rows below)'
           END                                    AS not_evaluable_because,
           0                                      AS sort
    FROM auditor.daily_access a
    WHERE a.resource = :'resource' AND a.day BETWEEN :'from'::date AND :'to'::date
    GROUP BY a.person
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, g.source, false,
           format('%s on %s: %s', g.status, g.days, g.reason), 1
    FROM gaps g
) result
ORDER BY sort, person, sources, not_evaluable_because;
