CREATE UNIQUE INDEX ON staging_population_accounts (account_id)
