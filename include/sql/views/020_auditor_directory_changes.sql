-- Who changed what in the directory (Entra directory audits), one row per target.
DROP VIEW IF EXISTS auditor.directory_changes CASCADE;
CREATE VIEW auditor.directory_changes AS
SELECT e.occurred_at,
       s.tenant_id,
       e.action                                   AS activity,
       e.properties->>'category'                  AS audit_category,
       e.properties->>'operationType'             AS operation,
       e.outcome,
       e.failure_reason,
       e.actor_name                               AS who,
       e.actor_principal_name                     AS login,
       e.actor_type,
       e.target_type,
       e.target_name,
       e.target_external_id,
       e.properties->'target'->'modifiedProperties' AS modified_properties,
       e.properties->>'loggedByService'           AS logged_by,
       e.source_ip,
       e.external_user_id,
       e.config_id,
       e.source_id,
       e.event_id
FROM audit.access_events e
JOIN audit.sources s USING (source_id)
WHERE e.category = 'iam';

GRANT SELECT ON auditor.directory_changes TO auditor_readonly;
