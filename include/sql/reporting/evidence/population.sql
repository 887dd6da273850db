-- The population as it was at the end of the review period: per population and account, the
-- version valid at the last instant of %(period_end)s (UTC), accounts removed by then included
-- (deleted = true), with the latest complete snapshot of the population taken before the
-- period ended (whose view this is) and the snapshots that first and last saw the version.
-- Sign-in activity fields are refreshed in place on an account's current version: a version
-- still current shows today's values, not those at the period's end.
WITH as_at AS (
    SELECT ((%(period_end)s::date + 1)::timestamp AT TIME ZONE 'UTC') AS at
),
snapshot AS (
    SELECT DISTINCT ON (s.population_id) s.population_id, s.snapshot_id, s.taken_at
    FROM audit.population_snapshots s, as_at
    WHERE s.status = 'complete' AND s.taken_at < as_at.at
    ORDER BY s.population_id, s.taken_at DESC, s.snapshot_id DESC
)
SELECT a.population_id,
       p.kind AS population_kind,
       a.account_id,
       a.deleted,
       a.principal_name,
       a.mail,
       a.display_name,
       a.enabled,
       a.user_type,
       a.account_created_at,
       a.last_sign_in_at,
       a.last_non_interactive_sign_in_at,
       a.last_successful_sign_in_at,
       a.aliases,
       a.valid_from,
       a.valid_to,
       a.first_snapshot_id,
       a.last_snapshot_id,
       snapshot.snapshot_id AS population_snapshot_id,
       snapshot.taken_at AS population_snapshot_taken_at,
       a.properties,
       a.content_hash
FROM audit.population_accounts a
JOIN audit.populations p ON p.population_id = a.population_id
LEFT JOIN snapshot ON snapshot.population_id = a.population_id
CROSS JOIN as_at
-- versions are [valid_from, valid_to): the one holding the period's last instant
WHERE a.valid_from < as_at.at
  AND (a.valid_to IS NULL OR a.valid_to >= as_at.at)
ORDER BY a.population_id COLLATE "C", a.account_id COLLATE "C"
