-- Live versions of accounts the snapshot found changed (sign-in activity aside) end now.
UPDATE audit.population_accounts a
SET valid_to = %(taken_at)s
FROM staging_population_accounts s
WHERE a.population_id = %(population_id)s AND a.valid_to IS NULL AND NOT a.deleted
  AND s.account_id = a.account_id AND s.content_hash <> a.content_hash
