-- The demo: failed sign-ins and the bursts that look like spraying or brute force.
SELECT 'failed sign-ins' AS what, coalesce(sum(failures), 0) AS count,
       coalesce(sum(lockouts), 0) AS lockouts
FROM reporting.failed_signins
WHERE day BETWEEN %(first_day)s AND %(last_day)s
UNION ALL
SELECT pattern, count(*), coalesce(sum(lockouts), 0)
FROM reporting.failed_signin_bursts
WHERE day BETWEEN %(first_day)s AND %(last_day)s
GROUP BY pattern
