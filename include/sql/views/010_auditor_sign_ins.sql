-- Sign-ins as auditors read them (category authentication).
DROP VIEW IF EXISTS auditor.sign_ins CASCADE;
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

GRANT SELECT ON auditor.sign_ins TO auditor_readonly;
