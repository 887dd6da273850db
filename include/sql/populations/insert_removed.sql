-- A deleted version for each account close_removed.sql ended: what it was when last seen,
-- deleted = true, from now on.
INSERT INTO audit.population_accounts (
    population_id, account_id, valid_from, valid_to, first_snapshot_id, last_snapshot_id,
    deleted, principal_name, mail, display_name, enabled, user_type, account_created_at,
    last_sign_in_at, last_non_interactive_sign_in_at, last_successful_sign_in_at, aliases,
    properties, content_hash)
SELECT a.population_id, a.account_id, %(taken_at)s, NULL, %(snapshot_id)s, %(snapshot_id)s,
       true, a.principal_name, a.mail, a.display_name, a.enabled, a.user_type,
       a.account_created_at, a.last_sign_in_at, a.last_non_interactive_sign_in_at,
       a.last_successful_sign_in_at, a.aliases, a.properties, a.content_hash
FROM audit.population_accounts a
WHERE a.population_id = %(population_id)s AND a.valid_to = %(taken_at)s AND NOT a.deleted
  AND NOT EXISTS (SELECT FROM staging_population_accounts s WHERE s.account_id = a.account_id)
