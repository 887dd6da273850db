-- Holds set in etl.legal_holds in force at the run's time (the config's come from the file).
SELECT hold_id, period_start, period_end, sources, reason, set_by, set_at
FROM etl.legal_holds
WHERE released_at IS NULL OR released_at > %(now)s
ORDER BY period_start, hold_id
