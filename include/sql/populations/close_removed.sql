-- Live versions of accounts the snapshot did not list end now (insert_removed.sql then records
-- that they are gone).
UPDATE audit.population_accounts a
SET valid_to = %(taken_at)s
WHERE a.population_id = %(population_id)s AND a.valid_to IS NULL AND NOT a.deleted
  AND NOT EXISTS (SELECT FROM staging_population_accounts s WHERE s.account_id = a.account_id)
