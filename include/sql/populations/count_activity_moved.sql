-- Unchanged accounts whose sign-in activity the snapshot refreshes (for the summary).
SELECT count(*)
FROM audit.population_accounts a
JOIN staging_population_accounts s ON s.account_id = a.account_id
WHERE a.population_id = %(population_id)s AND a.valid_to IS NULL AND NOT a.deleted
  AND (a.last_sign_in_at, a.last_non_interactive_sign_in_at, a.last_successful_sign_in_at)
      IS DISTINCT FROM
      (s.last_sign_in_at, s.last_non_interactive_sign_in_at, s.last_successful_sign_in_at)
