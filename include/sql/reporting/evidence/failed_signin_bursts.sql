-- Bursts of failed sign-ins (password spraying, brute force) that started on the review
-- period's days. The table has no key: every column orders, so equal rows are identical ones.
SELECT day,
       pattern,
       started_at,
       ended_at,
       source_ip,
       person,
       external_user_id,
       failures,
       principals,
       lockouts,
       sources,
       thresholds,
       build_id,
       built_at
FROM reporting.failed_signin_bursts
WHERE day BETWEEN %(period_start)s::date AND %(period_end)s::date
ORDER BY day, started_at, pattern COLLATE "C", source_ip COLLATE "C" NULLS FIRST,
         external_user_id NULLS FIRST, ended_at, failures, principals, lockouts,
         person COLLATE "C" NULLS FIRST, sources::text COLLATE "C", thresholds::text COLLATE "C",
         build_id, built_at
