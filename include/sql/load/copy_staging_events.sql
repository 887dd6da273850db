COPY staging_events (
    source_id, event_id, occurred_at, category, action, outcome, actor_external_id, actor_name,
    actor_principal_name, actor_type, target_external_id, target_name, target_type, mfa,
    source_ip, country, city, user_agent, client_app, auth_method, error_code, failure_reason,
    properties, content_hash, actor_alias_id, actor_alias_id_kind, actor_alias_name,
    candidate_user_id, config_id) FROM STDIN
