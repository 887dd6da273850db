-- Natural-key upsert: a rerun rewrites nothing unless the event or its resolution changed.
INSERT INTO audit.access_events AS e (
    source_id, event_id, occurred_at, category, action, outcome,
    actor_external_id, actor_name, actor_principal_name, actor_type,
    target_external_id, target_name, target_type, mfa, source_ip, country, city, user_agent,
    client_app, auth_method, error_code, failure_reason, properties,
    external_user_id, config_id, batch_id, ingested_at, content_hash, extracted_at)
SELECT source_id, event_id, occurred_at, category, action, outcome,
       actor_external_id, actor_name, actor_principal_name, actor_type,
       target_external_id, target_name, target_type, mfa, source_ip, country, city, user_agent,
       client_app, auth_method, error_code, failure_reason, properties,
       external_user_id, config_id, %(batch_id)s, now(), content_hash, %(extracted_at)s
FROM staging_events
WHERE change_kind IN ('new', 'changed')
ON CONFLICT (source_id, event_id, occurred_at) DO UPDATE SET
    category = excluded.category, action = excluded.action, outcome = excluded.outcome,
    actor_external_id = excluded.actor_external_id, actor_name = excluded.actor_name,
    actor_principal_name = excluded.actor_principal_name, actor_type = excluded.actor_type,
    target_external_id = excluded.target_external_id, target_name = excluded.target_name,
    target_type = excluded.target_type, mfa = excluded.mfa, source_ip = excluded.source_ip,
    country = excluded.country, city = excluded.city, user_agent = excluded.user_agent,
    client_app = excluded.client_app, auth_method = excluded.auth_method,
    error_code = excluded.error_code, failure_reason = excluded.failure_reason,
    properties = excluded.properties, external_user_id = excluded.external_user_id,
    config_id = excluded.config_id, batch_id = excluded.batch_id,
    ingested_at = excluded.ingested_at, content_hash = excluded.content_hash,
    extracted_at = excluded.extracted_at
WHERE e.content_hash IS DISTINCT FROM excluded.content_hash
   OR e.external_user_id IS DISTINCT FROM excluded.external_user_id
   OR e.config_id IS DISTINCT FROM excluded.config_id
