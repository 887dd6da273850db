-- The demo's events of one source, as resolved.
SELECT e.occurred_at, e.actor_name, u.principal_name, e.outcome, e.source_ip, u.is_stub, e.action,
       e.error_code
FROM audit.access_events e
JOIN audit.external_users u ON u.id = e.external_user_id
WHERE e.source_id = %(source_id)s
ORDER BY e.occurred_at, e.event_id
