-- When this snapshot is taken: now, but always after the population's last snapshot and
-- version, so versions never end before they begin (a clock set back, two snapshots in one
-- microsecond).
SELECT greatest(
    clock_timestamp(),
    (SELECT max(taken_at) + interval '1 microsecond' FROM audit.population_snapshots
     WHERE population_id = %(population_id)s),
    (SELECT max(valid_from) + interval '1 microsecond' FROM audit.population_accounts
     WHERE population_id = %(population_id)s))
