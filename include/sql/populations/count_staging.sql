SELECT count(*) FROM staging_population_accounts
