-- Which privileged changes happened in a period, and who made them?
--
-- Parameters (psql variables):
--   :'from'  the first day of the period, YYYY-MM-DD (UTC)
--   :'to'    the last day of the period, YYYY-MM-DD (UTC), included
-- Run:
--   psql -v from=2026-11-01 -v to=2026-11-30 -f include/sql/auditor/privileged_changes.sql
--
-- Every change to privilege in the period, in time order: directory role assignments,
-- privileged group membership, application credentials and consents, conditional-access
-- policies, database grants and roles (the rules are in include/config/reporting.yaml), with
-- who made it (changed_by, changed_by_login), on what, the privilege, old and new values, the
-- statement, the outcome and the IP. Then one row per source of directory or database
-- changes and reason for the days the reports cannot speak for: changes on those days may
-- be missing, so no row for a day never means no change.
WITH sources AS (
    SELECT c.source_id AS source, min(c.first_day) AS since
    FROM reporting.source_categories c
    WHERE c.category IN ('iam', 'database', 'configuration')
    GROUP BY c.source_id
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
SELECT occurred_at, change_type, action, outcome, changed_by, changed_by_login, target_type,
       target, privilege, old_value, new_value, statement, ip_address, source, evaluable,
       not_evaluable_because
FROM (
    SELECT p.occurred_at, p.change_type, p.action, p.outcome, p.changed_by, p.changed_by_login,
           p.target_type, p.target, p.privilege, p.old_value, p.new_value, p.statement,
           p.ip_address, p.source, true AS evaluable, NULL AS not_evaluable_because, 0 AS sort
    FROM auditor.privileged_changes p
    WHERE p.day BETWEEN :'from'::date AND :'to'::date
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           g.source, false, format('%s on %s: %s', g.status, g.days, g.reason), 1
    FROM gaps g
) result
ORDER BY sort, occurred_at, source, not_evaluable_because;
