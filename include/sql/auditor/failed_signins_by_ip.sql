-- Where do failed sign-ins come from: failed sign-ins by IP address in a period, with bursts?
--
-- Parameters (psql variables):
--   :'from'  the first day of the period, YYYY-MM-DD (UTC)
--   :'to'    the last day of the period, YYYY-MM-DD (UTC), included
-- Run:
--   psql -v from=2026-11-01 -v to=2026-11-30 -f include/sql/auditor/failed_signins_by_ip.sql
--
-- One row per IP address (empty: the source gave none), most failures first: failures and
-- lockouts apart, how many accounts failed from it and which, countries, error codes, first
-- and last failure, and the bursts seen from it (password spraying: one IP failing on many
-- accounts; brute force: many failures on one account; thresholds in
-- include/config/reporting.yaml). Then one row per sign-in source and reason for the days
-- the reports cannot speak for: failures on those days are not counted.
WITH failed AS (
    SELECT f.*, coalesce(f.login, f.person) AS account
    FROM auditor.failed_signins f
    WHERE f.day BETWEEN :'from'::date AND :'to'::date AND f.failures IS NOT NULL
),
bursts AS (
    SELECT b.ip_address,
           string_agg(format('%s from %s to %s: %s failures on %s accounts', b.pattern,
                             b.started_at, b.ended_at, b.failures, b.accounts),
                      '; ' ORDER BY b.started_at) AS bursts
    FROM auditor.failed_signin_bursts b
    WHERE b.day BETWEEN :'from'::date AND :'to'::date AND b.ip_address IS NOT NULL
    GROUP BY b.ip_address
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
SELECT ip_address, failures, lockouts, accounts, logins, countries, error_codes, first_at,
       last_at, bursts, sources, evaluable, not_evaluable_because
FROM (
    SELECT f.ip_address,
           sum(f.failures)                        AS failures,
           sum(f.lockouts)                        AS lockouts,
           count(DISTINCT f.account)              AS accounts,
           string_agg(DISTINCT f.account, ', ' ORDER BY f.account) AS logins,
           string_agg(DISTINCT f.country, ', ' ORDER BY f.country) AS countries,
           string_agg(DISTINCT f.error_code, ', ' ORDER BY f.error_code) AS error_codes,
           min(f.first_at)                        AS first_at,
           max(f.last_at)                         AS last_at,
           max(b.bursts)                          AS bursts,
           string_agg(DISTINCT f.source, ', ' ORDER BY f.source) AS sources,
           NOT EXISTS (SELECT FROM gaps)          AS evaluable,
           CASE WHEN EXISTS (SELECT FROM gaps) THEN
               'a lower bound: the sources do not cover every day of the period (rows below)'
           END                                    AS not_evaluable_because,
           0                                      AS sort
    FROM failed f
    LEFT JOIN bursts b ON b.ip_address = f.ip_address
    GROUP BY f.ip_address
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, g.source, false,
           format('%s on %s: %s', g.status, g.days, g.reason), 1
    FROM gaps g
) result
ORDER BY sort, failures DESC, ip_address, sources, not_evaluable_because;
