-- Accounts still gone: their deleted version was confirmed by this snapshot too.
UPDATE audit.population_accounts a
SET last_snapshot_id = %(snapshot_id)s
WHERE a.population_id = %(population_id)s AND a.valid_to IS NULL AND a.deleted
  AND NOT EXISTS (SELECT FROM staging_population_accounts s WHERE s.account_id = a.account_id)
