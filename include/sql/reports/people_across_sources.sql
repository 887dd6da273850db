-- The demo's "one person across sources": people with Entra sign-ins and database events,
-- side by side.
SELECT u.principal_name AS person,
       u.is_stub,
       count(*) FILTER (WHERE s.kind = 'entra_signins') AS entra_signins,
       count(*) FILTER (WHERE e.actor_type = 'database_role') AS database_events,
       string_agg(DISTINCT e.actor_name, ', ') FILTER (WHERE e.actor_type = 'database_role')
           AS database_logins,
       string_agg(DISTINCT e.target_name, ', ') FILTER (WHERE e.actor_type = 'database_role')
           AS database_objects,
       e.external_user_id
FROM audit.access_events e
JOIN audit.sources s USING (source_id)
JOIN audit.external_users u ON u.id = e.external_user_id
GROUP BY e.external_user_id, u.principal_name, u.is_stub
HAVING count(*) FILTER (WHERE s.kind = 'entra_signins') > 0
   AND count(*) FILTER (WHERE e.actor_type = 'database_role') > 0
ORDER BY person
