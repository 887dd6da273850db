-- How each identifier of the batch became its person, per source: through the editable
-- mapping, a known alias, or as a new person. Runs after the new people are inserted and
-- before their aliases are, so a person this batch creates reads as 'new'. A rerun adds
-- nothing: the row of the first resolution stays.
INSERT INTO audit.identity_lineage (source_id, identifier, identifier_kind, external_user_id,
                                    matched_alias, matched_by, identity_rule, first_batch_id)
SELECT a.source_id, a.identifier, a.identifier_kind, a.external_user_id,
       coalesce(m.alias, k.alias),
       CASE WHEN m.alias IS NOT NULL THEN 'identity_mapping'
            WHEN k.alias IS NOT NULL THEN 'alias'
            ELSE 'new' END,
       a.identity_rule, %(batch_id)s
FROM (
    SELECT DISTINCT ON (source_id, coalesce(actor_alias_id, actor_alias_name), external_user_id)
           source_id, coalesce(actor_alias_id, actor_alias_name) AS identifier,
           CASE WHEN actor_alias_id IS NOT NULL THEN actor_alias_id_kind
                ELSE 'principal_name' END AS identifier_kind,
           actor_alias_id, actor_alias_name, external_user_id,
           properties ->> 'identity_rule' AS identity_rule
    FROM staging_events
    WHERE coalesce(actor_alias_id, actor_alias_name) IS NOT NULL
    ORDER BY source_id, coalesce(actor_alias_id, actor_alias_name), external_user_id,
             occurred_at DESC, event_id
) a
LEFT JOIN LATERAL (
    SELECT alias FROM audit.identity_mappings
    WHERE alias IN (a.actor_alias_id, a.actor_alias_name)
      AND external_user_id = a.external_user_id
    ORDER BY alias IS DISTINCT FROM a.actor_alias_id LIMIT 1) m ON true
LEFT JOIN LATERAL (
    SELECT alias FROM audit.external_user_aliases
    WHERE alias IN (a.actor_alias_id, a.actor_alias_name)
      AND external_user_id = a.external_user_id
    ORDER BY alias IS DISTINCT FROM a.actor_alias_id LIMIT 1) k ON true
ON CONFLICT (source_id, identifier, external_user_id) DO NOTHING
