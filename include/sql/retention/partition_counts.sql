-- Per source: the rows of one partition, the oldest and the newest.
SELECT source_id, count(*), min(occurred_at), max(occurred_at)
FROM {partition}
GROUP BY source_id
ORDER BY source_id
