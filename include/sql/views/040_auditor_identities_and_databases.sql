-- People and database objects as auditors read them.

-- Stub people: identifiers that matched no alias and no mapping (a database login without an
-- identity rule, a name nothing else knows). Each is listed with what it was seen as, where.
DROP VIEW IF EXISTS auditor.stub_users CASCADE;
CREATE VIEW auditor.stub_users AS
SELECT u.id AS external_user_id,
       u.display_name,
       u.principal_name,
       u.actor_type,
       u.first_source_id,
       u.created_at,
       (SELECT array_agg(DISTINCT l.identifier ORDER BY l.identifier)
        FROM audit.identity_lineage l WHERE l.external_user_id = u.id) AS identifiers,
       (SELECT array_agg(DISTINCT l.source_id ORDER BY l.source_id)
        FROM audit.identity_lineage l WHERE l.external_user_id = u.id) AS sources,
       (SELECT coalesce(sum(a.count), 0) FROM audit.access_logs a
        WHERE a.external_user_id = u.id) AS successful_accesses
FROM audit.external_users u
WHERE u.is_stub;

-- How every identifier of every source became its person.
DROP VIEW IF EXISTS auditor.identity_lineage CASCADE;
CREATE VIEW auditor.identity_lineage AS
SELECT l.source_id,
       l.identifier,
       l.identifier_kind,
       l.matched_by,
       l.matched_alias,
       l.identity_rule,
       l.external_user_id,
       u.principal_name AS person,
       u.is_stub,
       l.first_batch_id,
       l.first_seen_at
FROM audit.identity_lineage l
JOIN audit.external_users u ON u.id = l.external_user_id;

-- Database activity with its place in the server > database > schema > object tree: "who
-- read billing.invoices on db-prod" is a filter on server and object_name.
DROP VIEW IF EXISTS auditor.database_access CASCADE;
CREATE VIEW auditor.database_access AS
WITH RECURSIVE tree AS (
    SELECT c.id, c.id AS root_id, c.type, c.name, c.parent_id, 1 AS depth
    FROM audit.config_items c
    WHERE c.parent_id IS NOT NULL OR c.type = 'database_server'
    UNION ALL
    SELECT t.id, p.id, p.type, p.name, p.parent_id, t.depth + 1
    FROM tree t JOIN audit.config_items p ON p.id = t.parent_id
), levels AS (
    SELECT id,
           max(name) FILTER (WHERE type = 'database_server') AS server,
           max(name) FILTER (WHERE type = 'database') AS database_name,
           max(name) FILTER (WHERE type = 'schema') AS schema_name
    FROM tree GROUP BY id
)
SELECT e.occurred_at,
       l.server,
       l.database_name,
       l.schema_name,
       CASE WHEN e.target_type IN ('database_server', 'database', 'schema') THEN NULL
            ELSE e.target_name END AS object_name,
       e.target_type AS object_type,
       e.category,
       e.action,
       e.outcome,
       e.actor_name AS login,
       u.principal_name AS person,
       e.external_user_id,
       u.is_stub,
       e.source_ip,
       e.client_app,
       e.properties ->> 'statement' AS statement,
       e.source_id,
       e.event_id,
       e.config_id
FROM audit.access_events e
JOIN levels l ON l.id = e.config_id
JOIN audit.external_users u ON u.id = e.external_user_id
WHERE e.actor_type = 'database_role' OR e.target_type IN ('database_server', 'database',
      'schema', 'table', 'view', 'materialized_view', 'foreign_table', 'sequence', 'function',
      'procedure', 'index', 'type', 'object');

GRANT SELECT ON auditor.stub_users, auditor.identity_lineage, auditor.database_access
    TO auditor_readonly;
