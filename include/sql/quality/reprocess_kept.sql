-- How many records of a re-processing batch its load quarantined again.
SELECT count(*)::integer
FROM dq.quarantine_history
WHERE batch_id = %(batch_id)s AND outcome = 'kept'
