-- The daily summary of the last %(days)s UTC days (today included), optionally of one source.
SELECT day, source_id, batches, windows, extracted, loaded, quarantined, excluded,
       failed_validations, failed_expectations, status, problems
FROM dq.daily_summary
WHERE day > (now() AT TIME ZONE 'UTC')::date - %(days)s::integer
  AND (%(source_id)s::text IS NULL OR source_id = %(source_id)s::text)
ORDER BY day DESC, source_id
