INSERT INTO audit.config_items (id, type, external_id, name, first_source_id)
SELECT DISTINCT ON (config_id)
       config_id, target_type, lower(btrim(coalesce(target_external_id, target_name))),
       target_name, source_id
FROM staging_events
WHERE config_id IS NOT NULL
ORDER BY config_id, occurred_at DESC, event_id
ON CONFLICT DO NOTHING
