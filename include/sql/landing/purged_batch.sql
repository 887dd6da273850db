-- The retention purge that removed a landing batch, if one did (its batch ids are in the
-- purge's details): such a batch can no longer be replayed.
SELECT retention_run_id, finished_at, policy ->> 'keep'
FROM etl.retention_runs
WHERE table_name = 'landing.extract_batches' AND NOT dry_run
  AND details -> 'batch_ids' ? %(batch_id)s::text
ORDER BY finished_at DESC
LIMIT 1
