-- Who lacks MFA: which people signed in without MFA in a period?
--
-- Parameters (psql variables):
--   :'from'  the first day of the period, YYYY-MM-DD (UTC)
--   :'to'    the last day of the period, YYYY-MM-DD (UTC), included
-- Run:
--   psql -v from=2026-11-01 -v to=2026-11-30 -f include/sql/auditor/people_without_mfa.sql
--
-- One row per person with a successful sign-in (at a sign-in source: one that reports
-- authentication events) without MFA in the period: finding `never with MFA` when none of
-- their successful sign-ins used it, `sometimes without MFA` otherwise. Then the people whose
-- sign-ins' MFA the sources cannot tell (`MFA unknown`: not shown to lack it, not cleared
-- either; database logins say nothing about MFA). Then one row per sign-in source and reason
-- for the days the reports cannot speak for: a person may lack MFA on those days and no row
-- shows it.
WITH sign_ins AS (
    SELECT a.*
    FROM auditor.daily_access a
    WHERE 'authentication' = ANY (a.categories)
      AND a.day BETWEEN :'from'::date AND :'to'::date
),
sources AS (
    SELECT c.source_id AS source, c.first_day AS since
    FROM reporting.source_categories c
    WHERE c.category = 'authentication'
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
SELECT person, finding, successes_without_mfa, successes_with_mfa, successes_mfa_unknown,
       resources_without_mfa, last_day_without_mfa, sources, evaluable, not_evaluable_because
FROM (
    SELECT a.person,
           CASE WHEN sum(a.without_mfa) > 0 AND sum(a.with_mfa) = 0 THEN 'never with MFA'
                WHEN sum(a.without_mfa) > 0 THEN 'sometimes without MFA'
                ELSE 'MFA unknown' END         AS finding,
           sum(a.without_mfa)                  AS successes_without_mfa,
           sum(a.with_mfa)                     AS successes_with_mfa,
           sum(a.mfa_unknown)                  AS successes_mfa_unknown,
           string_agg(DISTINCT a.resource, ', ' ORDER BY a.resource)
               FILTER (WHERE a.without_mfa > 0)  AS resources_without_mfa,
           max(a.day) FILTER (WHERE a.without_mfa > 0) AS last_day_without_mfa,
           string_agg(DISTINCT a.source, ', ' ORDER BY a.source) AS sources,
           NOT EXISTS (SELECT FROM gaps)       AS evaluable,
           CASE WHEN EXISTS (SELECT FROM gaps) THEN
               'a lower bound: the sources do not cover every day of the period (rows below)'
           END                                 AS not_evaluable_because,
           CASE WHEN sum(a.without_mfa) > 0 AND sum(a.with_mfa) = 0 THEN 0
                WHEN sum(a.without_mfa) > 0 THEN 1 ELSE 2 END AS sort
    FROM sign_ins a
    WHERE a.person IS NOT NULL
    GROUP BY a.person
    HAVING sum(a.without_mfa) > 0 OR sum(a.mfa_unknown) > 0
    UNION ALL
    SELECT NULL, 'not evaluable', NULL, NULL, NULL, NULL, NULL, g.source, false,
           format('%s on %s: %s', g.status, g.days, g.reason), 3
    FROM gaps g
) result
ORDER BY sort, successes_without_mfa DESC, person, sources, not_evaluable_because;
