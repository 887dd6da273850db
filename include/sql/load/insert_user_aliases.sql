INSERT INTO audit.external_user_aliases (alias, alias_kind, external_user_id, source_id)
SELECT DISTINCT ON (alias) alias, alias_kind, external_user_id, source_id
FROM (
    SELECT actor_alias_id AS alias, actor_alias_id_kind AS alias_kind, external_user_id,
           source_id, occurred_at
    FROM staging_events WHERE actor_alias_id IS NOT NULL
    UNION ALL
    SELECT actor_alias_name, 'principal_name', external_user_id, source_id, occurred_at
    FROM staging_events WHERE actor_alias_name IS NOT NULL
) aliases
ORDER BY alias, occurred_at
ON CONFLICT (alias) DO NOTHING
