-- reporting.failed_signin_bursts for one UTC day. A window of the configured length starts at
-- each failure (lockouts are not failures here: they are the account's answer to them):
-- password spraying when the failures from one IP within it name at least
-- spraying_min_principals people, brute force when one person fails at least
-- brute_force_min_failures times within it. Overlapping windows merge into one burst, on the
-- day its first window starts (a burst across midnight is split at the day's end).
WITH spray_starts AS (
    SELECT f.source_ip AS subject_ip, NULL::uuid AS subject_user, f.occurred_at AS window_from
    FROM burst_failures f
    WHERE NOT f.lockout AND f.source_ip IS NOT NULL AND f.occurred_at < %(day_end)s
      AND (SELECT count(DISTINCT g.external_user_id)
           FROM burst_failures g
           WHERE g.source_ip = f.source_ip AND NOT g.lockout
             AND g.occurred_at >= f.occurred_at
             AND g.occurred_at < f.occurred_at + %(window)s) >= %(min_principals)s
),
brute_starts AS (
    SELECT NULL::text AS subject_ip, f.external_user_id AS subject_user,
           f.occurred_at AS window_from
    FROM burst_failures f
    WHERE NOT f.lockout AND f.occurred_at < %(day_end)s
      AND (SELECT count(*)
           FROM burst_failures g
           WHERE g.external_user_id = f.external_user_id AND NOT g.lockout
             AND g.occurred_at >= f.occurred_at
             AND g.occurred_at < f.occurred_at + %(window)s) >= %(min_failures)s
),
starts AS (
    SELECT 'password_spraying' AS pattern, * FROM spray_starts
    UNION ALL
    SELECT 'brute_force', * FROM brute_starts
),
marked AS (
    SELECT s.*,
           CASE WHEN lag(s.window_from) OVER subject >= s.window_from - %(window)s
                THEN 0 ELSE 1 END AS new_burst
    FROM starts s
    WINDOW subject AS (PARTITION BY s.pattern, s.subject_ip, s.subject_user
                       ORDER BY s.window_from)
),
numbered AS (
    SELECT m.*,
           sum(m.new_burst) OVER (PARTITION BY m.pattern, m.subject_ip, m.subject_user
                                  ORDER BY m.window_from) AS burst_no
    FROM marked m
),
bursts AS (
    SELECT pattern, subject_ip, subject_user, burst_no,
           min(window_from) AS started, max(window_from) + %(window)s AS until
    FROM numbered
    GROUP BY pattern, subject_ip, subject_user, burst_no
)
INSERT INTO reporting.failed_signin_bursts (
    day, pattern, source_ip, external_user_id, person, started_at, ended_at, failures,
    principals, lockouts, sources, thresholds, build_id, built_at)
SELECT %(day)s, b.pattern, b.subject_ip, b.subject_user,
       coalesce(u.principal_name, u.display_name),
       min(f.occurred_at) FILTER (WHERE NOT f.lockout),
       max(f.occurred_at) FILTER (WHERE NOT f.lockout),
       count(*) FILTER (WHERE NOT f.lockout),
       count(DISTINCT f.external_user_id) FILTER (WHERE NOT f.lockout),
       count(*) FILTER (WHERE f.lockout),
       array_agg(DISTINCT f.source_id ORDER BY f.source_id),
       %(thresholds)s, %(build_id)s, %(built_at)s
FROM bursts b
JOIN burst_failures f
  ON f.occurred_at >= b.started AND f.occurred_at < b.until
 AND (b.pattern = 'password_spraying' AND f.source_ip = b.subject_ip
      OR b.pattern = 'brute_force' AND f.external_user_id = b.subject_user)
LEFT JOIN audit.external_users u ON u.id = b.subject_user
GROUP BY b.pattern, b.subject_ip, b.subject_user, b.burst_no,
         coalesce(u.principal_name, u.display_name)
