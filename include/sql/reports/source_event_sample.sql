-- The demo's sample of one source's events: who, what, on which resource.
SELECT e.occurred_at, coalesce(u.principal_name, e.actor_name, '(unknown)'), e.category,
       e.action, e.outcome, coalesce(e.target_name, e.target_external_id), e.mfa
FROM audit.access_events e
JOIN audit.external_users u ON u.id = e.external_user_id
WHERE e.source_id = %(source_id)s
ORDER BY e.occurred_at, e.event_id
LIMIT %(limit)s
