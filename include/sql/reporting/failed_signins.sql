-- reporting.failed_signins for one UTC day: failed sign-ins per source, person, IP and reason,
-- lockouts (the configured error codes) counted apart from failures; then a marker row per
-- sign-in source that does not cover the day.
INSERT INTO reporting.failed_signins (
    day, source_id, external_user_id, person, principal, source_ip, country, error_code,
    failure_reason, failures, lockouts, first_at, last_at, evaluable, status, build_id, built_at)
SELECT %(day)s, e.source_id, e.external_user_id, coalesce(u.principal_name, u.display_name),
       max(coalesce(e.actor_principal_name, e.actor_name)),
       e.source_ip,
       (array_agg(e.country ORDER BY e.occurred_at DESC, e.event_id DESC)
            FILTER (WHERE e.country IS NOT NULL))[1],
       e.error_code, e.failure_reason,
       count(*) FILTER (WHERE e.error_code IS NULL OR e.error_code <> ALL (%(lockout_codes)s)),
       count(*) FILTER (WHERE e.error_code = ANY (%(lockout_codes)s)),
       min(e.occurred_at), max(e.occurred_at),
       coalesce(d.evaluable, false), coalesce(d.status, 'not_extracted'),
       %(build_id)s, %(built_at)s
FROM audit.access_events e
JOIN audit.external_users u ON u.id = e.external_user_id
LEFT JOIN reporting.source_days d ON d.day = %(day)s AND d.source_id = e.source_id
WHERE e.occurred_at >= %(day_start)s AND e.occurred_at < %(day_end)s
  AND e.category = 'authentication' AND e.outcome = 'failure'
GROUP BY e.source_id, e.external_user_id, coalesce(u.principal_name, u.display_name),
         e.source_ip, e.error_code, e.failure_reason, d.evaluable, d.status
UNION ALL
SELECT %(day)s, c.source_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       false, coalesce(d.status, 'not_extracted'), %(build_id)s, %(built_at)s
FROM reporting.source_categories c
LEFT JOIN reporting.source_days d ON d.day = %(day)s AND d.source_id = c.source_id
WHERE c.category = 'authentication' AND NOT coalesce(d.evaluable, false)
