-- Config items the batch's targets name, with the ancestors of object-path targets (server,
-- database, schema) and each one's parent.
INSERT INTO audit.config_items (id, type, external_id, name, parent_id, first_source_id)
SELECT DISTINCT ON (id) id, type, external_id, name, parent_id, source_id
FROM (
    SELECT s.config_id AS id, s.target_type AS type,
           lower(btrim(coalesce(s.target_external_id, s.target_name))) AS external_id,
           s.target_name AS name, c.parent_id, s.source_id, 0 AS from_ancestors,
           s.occurred_at, s.event_id
    FROM staging_events s
    LEFT JOIN staging_config_items c ON c.id = s.config_id
    WHERE s.config_id IS NOT NULL
    UNION ALL
    SELECT c.id, c.type, c.external_id, c.name, c.parent_id, %(source_id)s, 1, NULL, NULL
    FROM staging_config_items c
) items
ORDER BY id, from_ancestors, occurred_at DESC, event_id
ON CONFLICT DO NOTHING
