-- Every row of a source with the columns its content hash was computed from (contract.
-- NORMALISED_COLUMNS, properties as jsonb text last), streamed to the verifier, which hashes
-- them again: an edit that left content_hash as it was shows here.
SELECT batch_id, content_hash, source_id, event_id, occurred_at, category, action, outcome,
       actor_external_id, actor_name, actor_principal_name, actor_type, target_external_id,
       target_name, target_type, mfa, source_ip, country, city, user_agent, client_app,
       auth_method, error_code, failure_reason, properties::text
FROM audit.access_events
WHERE source_id = %(source_id)s
