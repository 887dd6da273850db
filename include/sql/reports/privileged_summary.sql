-- The demo: privileged changes per type in the period, with the latest of each.
SELECT change_type, count(*) AS changes,
       (array_agg(actor_login || ' ' || action || coalesce(' -> ' || privilege, '')
                  ORDER BY occurred_at DESC))[1] AS latest
FROM reporting.privileged_changes
WHERE day BETWEEN %(first_day)s AND %(last_day)s
GROUP BY change_type
ORDER BY changes DESC
