-- Human-readable views for auditors (read-only role: see README).
CREATE VIEW auditor.sign_ins AS
SELECT e.occurred_at,
       s.tenant_id,
       e.actor_name           AS who,
       e.actor_principal_name AS login,
       e.actor_type,
       e.target_name          AS application,
       e.outcome,
       e.error_code,
       e.failure_reason,
       e.mfa,
       e.auth_method,
       e.source_ip,
       e.country,
       e.city,
       e.client_app,
       e.external_user_id,
       e.config_id,
       e.source_id,
       e.event_id
FROM audit.access_events e
JOIN audit.sources s USING (source_id)
WHERE e.category = 'authentication';

CREATE VIEW auditor.batches AS
SELECT source_id, window_start, window_end, extracted, loaded, quarantined, inserted, updated,
       unchanged, duration_s, loaded_at, batch_hash
FROM audit.batches;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'auditor_read') THEN
        CREATE ROLE auditor_read NOLOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA auditor, reporting TO auditor_read;
GRANT SELECT ON ALL TABLES IN SCHEMA auditor TO auditor_read;
