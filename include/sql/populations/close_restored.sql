-- An account recorded as gone that is listed again: its deleted version ends now.
UPDATE audit.population_accounts a
SET valid_to = %(taken_at)s
FROM staging_population_accounts s
WHERE a.population_id = %(population_id)s AND a.valid_to IS NULL AND a.deleted
  AND s.account_id = a.account_id
