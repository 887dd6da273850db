INSERT INTO burst_failures (occurred_at, source_ip, external_user_id, source_id, lockout)
SELECT e.occurred_at, e.source_ip, e.external_user_id, e.source_id,
       coalesce(e.error_code = ANY (%(lockout_codes)s), false)
FROM audit.access_events e
WHERE e.occurred_at >= %(day_start)s AND e.occurred_at < %(day_end)s + %(window)s
  AND e.category = 'authentication' AND e.outcome = 'failure'
