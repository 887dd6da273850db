-- An account listed twice (a directory changing while it is paged): its last listing wins.
DELETE FROM staging_population_accounts s
USING staging_population_accounts later
WHERE later.account_id = s.account_id AND later.staged_no > s.staged_no
