-- Two actors that are new in this batch and share a principal name are one person: events
-- that carry only the name take the person of an event that carries an id with it (the first
-- one). Without this, one batch would make two people and its rerun would move events.
UPDATE staging_events s
SET external_user_id = k.external_user_id
FROM (
    SELECT DISTINCT ON (actor_alias_name) actor_alias_name, external_user_id
    FROM staging_events
    WHERE actor_alias_name IS NOT NULL AND actor_alias_id IS NOT NULL
    ORDER BY actor_alias_name, occurred_at, event_id
) k
WHERE s.actor_alias_name = k.actor_alias_name
  AND s.actor_alias_id IS NULL
  AND s.external_user_id = s.candidate_user_id
  AND s.external_user_id IS DISTINCT FROM k.external_user_id
  AND NOT EXISTS (SELECT 1 FROM audit.external_users u WHERE u.id = s.candidate_user_id)
