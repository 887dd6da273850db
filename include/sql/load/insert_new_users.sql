INSERT INTO audit.external_users (id, actor_type, display_name, principal_name, is_stub,
                                  first_source_id)
SELECT DISTINCT ON (external_user_id)
       external_user_id, actor_type, actor_name, actor_principal_name, true, source_id
FROM staging_events
ORDER BY external_user_id, occurred_at DESC, event_id
ON CONFLICT (id) DO NOTHING
