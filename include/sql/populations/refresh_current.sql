-- Unchanged accounts: the current version stays, seen by this snapshot, with the directory's
-- sign-in activity as it says now (those fields move daily; the events are their history).
UPDATE audit.population_accounts a
SET last_snapshot_id = %(snapshot_id)s,
    last_sign_in_at = s.last_sign_in_at,
    last_non_interactive_sign_in_at = s.last_non_interactive_sign_in_at,
    last_successful_sign_in_at = s.last_successful_sign_in_at
FROM staging_population_accounts s
WHERE a.population_id = %(population_id)s AND a.valid_to IS NULL AND NOT a.deleted
  AND s.account_id = a.account_id
