-- One snapshot of a population at a time (a retry beside a late run): the second waits for the
-- first to commit, then compares against what it wrote. Released when the transaction ends.
SELECT pg_advisory_xact_lock(hashtextextended('audit.population:' || %(population_id)s, 0))
