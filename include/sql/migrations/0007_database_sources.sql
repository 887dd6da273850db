-- Database audit trails as sources: config items form a tree (server > database > schema >
-- object), and every resolved actor records how it became its person.
ALTER TABLE audit.config_items
    ADD COLUMN parent_id uuid REFERENCES audit.config_items (id);
CREATE INDEX config_items_parent_idx ON audit.config_items (parent_id);

-- Per source and identifier: the person it resolved to, the alias that matched and how
-- (the editable mapping, a known alias, or none: a new person, a stub unless the identifier is
-- a directory object id).
CREATE TABLE audit.identity_lineage (
    source_id        text NOT NULL,
    identifier       text NOT NULL CHECK (identifier = lower(btrim(identifier))),
    identifier_kind  text NOT NULL,
    external_user_id uuid NOT NULL REFERENCES audit.external_users (id),
    matched_alias    text,
    matched_by       text NOT NULL CHECK (matched_by IN ('identity_mapping', 'alias', 'new')),
    -- the source's identity rule that gave the matched alias (e.g. template, logins.svc_app)
    identity_rule    text,
    -- the load that first resolved it so (a rerun adds nothing)
    first_batch_id   uuid NOT NULL,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, identifier, external_user_id)
);
CREATE INDEX identity_lineage_user_idx ON audit.identity_lineage (external_user_id);

-- Users created from a directory object id are people the directory knows, not stubs.
UPDATE audit.external_users u SET is_stub = false
WHERE is_stub AND EXISTS (
    SELECT 1 FROM audit.external_user_aliases a
    WHERE a.external_user_id = u.id AND a.alias_kind IN ('object_id', 'service_principal_id'));

-- The lineage of what loads before this migration stored, read back from the events: how the
-- identifier was matched then is inferred (the editable mapping; an alias another source
-- brought; else new), no identity rule existed.
INSERT INTO audit.identity_lineage (source_id, identifier, identifier_kind, external_user_id,
                                    matched_alias, matched_by, identity_rule, first_batch_id,
                                    first_seen_at)
SELECT DISTINCT ON (e.source_id, e.identifier, e.external_user_id)
       e.source_id, e.identifier, e.identifier_kind, e.external_user_id,
       CASE WHEN m.alias IS NOT NULL THEN m.alias
            WHEN a.source_id IS DISTINCT FROM e.source_id THEN a.alias END,
       CASE WHEN m.alias IS NOT NULL THEN 'identity_mapping'
            WHEN a.source_id IS DISTINCT FROM e.source_id THEN 'alias'
            ELSE 'new' END,
       NULL, e.batch_id, e.ingested_at
FROM (
    SELECT source_id, external_user_id, batch_id, ingested_at,
           coalesce(nullif(lower(btrim(actor_external_id)), ''),
                    nullif(lower(btrim(actor_principal_name)), '')) AS identifier,
           CASE WHEN nullif(btrim(actor_external_id), '') IS NULL THEN 'principal_name'
                WHEN actor_type = 'user' THEN 'object_id'
                WHEN actor_type IN ('service_principal', 'managed_identity')
                    THEN 'service_principal_id'
                WHEN actor_type = 'database_role' THEN 'login'
                ELSE 'external_id' END AS identifier_kind
    FROM audit.access_events
) e
LEFT JOIN audit.identity_mappings m
       ON m.alias = e.identifier AND m.external_user_id = e.external_user_id
LEFT JOIN audit.external_user_aliases a ON a.alias = e.identifier
WHERE e.identifier IS NOT NULL
ORDER BY e.source_id, e.identifier, e.external_user_id, e.ingested_at, e.batch_id;
