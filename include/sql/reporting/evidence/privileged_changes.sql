-- Changes to privilege on the review period's days (UTC): roles, privileged groups,
-- application credentials and consents, conditional access, database grants and roles.
SELECT day,
       occurred_at,
       source_id,
       event_id,
       change_type,
       action,
       outcome,
       actor_user_id,
       actor,
       actor_login,
       target_type,
       target_name,
       target_external_id,
       privilege,
       old_value,
       new_value,
       statement,
       source_ip,
       build_id,
       built_at
FROM reporting.privileged_changes
WHERE day BETWEEN %(period_start)s::date AND %(period_end)s::date
ORDER BY occurred_at, source_id COLLATE "C", event_id COLLATE "C"
