-- The months the staged events fall in (UTC): the partitions the upsert needs.
SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date
FROM staging_events
ORDER BY 1
