-- A stub that a directory object id now resolves to (a database login seen before the person's
-- first Entra sign-in) is a known person from now on.
UPDATE audit.external_users u SET is_stub = false
WHERE u.is_stub
  AND u.id IN (SELECT external_user_id FROM staging_events
               WHERE actor_alias_id_kind IN ('object_id', 'service_principal_id'))
