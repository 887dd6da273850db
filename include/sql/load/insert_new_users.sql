-- A person first seen in this batch. A stub unless it came from a directory object id: a
-- login or name that matched no alias and no mapping is counted and listed
-- (auditor.stub_users), never dropped.
INSERT INTO audit.external_users (id, actor_type, display_name, principal_name, is_stub,
                                  first_source_id)
SELECT DISTINCT ON (external_user_id)
       external_user_id, actor_type, actor_name, actor_principal_name,
       actor_alias_id_kind IS DISTINCT FROM 'object_id'
           AND actor_alias_id_kind IS DISTINCT FROM 'service_principal_id',
       source_id
FROM staging_events
ORDER BY external_user_id, occurred_at DESC, event_id
ON CONFLICT (id) DO NOTHING
RETURNING is_stub
