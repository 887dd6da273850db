-- A live version for every listed account without a current one: new accounts, and those whose
-- version close_changed.sql or close_restored.sql just ended.
INSERT INTO audit.population_accounts (
    population_id, account_id, valid_from, valid_to, first_snapshot_id, last_snapshot_id,
    deleted, principal_name, mail, display_name, enabled, user_type, account_created_at,
    last_sign_in_at, last_non_interactive_sign_in_at, last_successful_sign_in_at, aliases,
    properties, content_hash)
SELECT %(population_id)s, s.account_id, %(taken_at)s, NULL, %(snapshot_id)s, %(snapshot_id)s,
       false, s.principal_name, s.mail, s.display_name, s.enabled, s.user_type,
       s.account_created_at, s.last_sign_in_at, s.last_non_interactive_sign_in_at,
       s.last_successful_sign_in_at, s.aliases, s.properties, s.content_hash
FROM staging_population_accounts s
WHERE NOT EXISTS (
    SELECT FROM audit.population_accounts a
    WHERE a.population_id = %(population_id)s AND a.account_id = s.account_id
      AND a.valid_to IS NULL)
