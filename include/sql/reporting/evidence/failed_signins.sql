-- Failed sign-ins on the review period's days per source, person, IP and reason, with the
-- marker rows (counts empty, status saying why) of days a source did not cover.
SELECT day,
       source_id,
       person,
       external_user_id,
       principal,
       source_ip,
       country,
       error_code,
       failure_reason,
       failures,
       lockouts,
       first_at,
       last_at,
       evaluable,
       status,
       build_id,
       built_at
FROM reporting.failed_signins
WHERE day BETWEEN %(period_start)s::date AND %(period_end)s::date
-- the table's unique key, NULLs placed (the key reads a NULL as '')
ORDER BY day, source_id COLLATE "C", external_user_id NULLS FIRST,
         source_ip COLLATE "C" NULLS FIRST, error_code COLLATE "C" NULLS FIRST,
         failure_reason COLLATE "C" NULLS FIRST
