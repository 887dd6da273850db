-- Per population: its current accounts (live ones), guests, disabled, roles, those whose
-- directory sign-in activity is empty, those recorded as gone, and its latest snapshot.
WITH latest AS (
    SELECT DISTINCT ON (population_id) population_id, status, taken_at, source_said, error
    FROM audit.population_snapshots
    ORDER BY population_id, taken_at DESC
)
SELECT p.population_id,
       p.kind,
       count(a.*) FILTER (WHERE NOT a.deleted) AS accounts,
       count(a.*) FILTER (WHERE NOT a.deleted AND a.user_type = 'guest') AS guests,
       count(a.*) FILTER (WHERE NOT a.deleted AND a.enabled IS FALSE) AS disabled,
       count(a.*) FILTER (WHERE NOT a.deleted AND a.user_type = 'role') AS roles,
       count(a.*) FILTER (
           WHERE NOT a.deleted AND a.last_sign_in_at IS NULL
             AND a.last_non_interactive_sign_in_at IS NULL
             AND a.last_successful_sign_in_at IS NULL) AS never_signed_in,
       count(a.*) FILTER (WHERE a.deleted) AS gone,
       l.status,
       l.taken_at,
       (l.source_said ->> 'sign_in_activity_available')::boolean AS sign_in_activity_available,
       l.error
FROM audit.populations p
LEFT JOIN audit.population_accounts a
       ON a.population_id = p.population_id AND a.valid_to IS NULL
LEFT JOIN latest l ON l.population_id = p.population_id
GROUP BY p.population_id, p.kind, l.status, l.taken_at, l.source_said, l.error
ORDER BY p.population_id
