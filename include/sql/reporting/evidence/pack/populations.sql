-- The populations and the latest complete snapshot of each taken before the period ended.
SELECT p.population_id, p.kind, p.source_ids, p.conn_id,
       s.snapshot_id, s.taken_at, s.accounts
FROM audit.populations p
LEFT JOIN LATERAL (
    SELECT snapshot_id, taken_at, accounts
    FROM audit.population_snapshots
    WHERE population_id = p.population_id
      AND status = 'complete'
      AND taken_at < ((%(period_end)s::date + 1)::timestamp AT TIME ZONE 'UTC')
    ORDER BY taken_at DESC, snapshot_id DESC
    LIMIT 1
) s ON true
ORDER BY p.population_id COLLATE "C"
