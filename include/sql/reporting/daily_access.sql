-- reporting.daily_access for one UTC day: per source, resource and person; then one marker row
-- (no resource, no person, NULL counts) per source that does not cover the day, so the day
-- never reads as "no activity" for it. Activity rows carry the source's status for the day too.
-- The MFA columns count successful events (a failed attempt without MFA is not an access).
INSERT INTO reporting.daily_access (
    day, source_id, config_id, resource_type, resource_name, external_user_id, person,
    events, successes, failures, unknown_outcome, with_mfa, without_mfa, mfa_unknown,
    distinct_ips, distinct_countries, first_at, last_at, last_success_at, last_ip, last_country,
    categories, evaluable, status, build_id, built_at)
SELECT %(day)s, e.source_id, e.config_id, c.type, c.name, e.external_user_id,
       coalesce(u.principal_name, u.display_name),
       count(*),
       count(*) FILTER (WHERE e.outcome = 'success'),
       count(*) FILTER (WHERE e.outcome = 'failure'),
       count(*) FILTER (WHERE e.outcome = 'unknown'),
       count(*) FILTER (WHERE e.outcome = 'success' AND e.mfa),
       count(*) FILTER (WHERE e.outcome = 'success' AND NOT e.mfa),
       count(*) FILTER (WHERE e.outcome = 'success' AND e.mfa IS NULL),
       count(DISTINCT e.source_ip),
       count(DISTINCT e.country),
       min(e.occurred_at),
       max(e.occurred_at),
       max(e.occurred_at) FILTER (WHERE e.outcome = 'success'),
       (array_agg(e.source_ip ORDER BY e.occurred_at DESC, e.event_id DESC)
            FILTER (WHERE e.source_ip IS NOT NULL))[1],
       (array_agg(e.country ORDER BY e.occurred_at DESC, e.event_id DESC)
            FILTER (WHERE e.country IS NOT NULL))[1],
       array_agg(DISTINCT e.category ORDER BY e.category),
       coalesce(d.evaluable, false),
       coalesce(d.status, 'not_extracted'),
       %(build_id)s, %(built_at)s
FROM audit.access_events e
JOIN audit.external_users u ON u.id = e.external_user_id
LEFT JOIN audit.config_items c ON c.id = e.config_id
LEFT JOIN reporting.source_days d ON d.day = %(day)s AND d.source_id = e.source_id
WHERE e.occurred_at >= %(day_start)s AND e.occurred_at < %(day_end)s
GROUP BY e.source_id, e.config_id, c.type, c.name, e.external_user_id,
         coalesce(u.principal_name, u.display_name), d.evaluable, d.status
UNION ALL
SELECT %(day)s, d.source_id, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, false, d.status, %(build_id)s, %(built_at)s
FROM reporting.source_days d
WHERE d.day = %(day)s AND NOT d.evaluable
