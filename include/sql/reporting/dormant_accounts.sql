-- reporting.dormant_accounts as of the as-of day: every current account of every population
-- (the latest version, not deleted) with its last successful access in the population's
-- sources (through the person its aliases name: an identity mapping wins), the directory's own
-- signInActivity, and a status:
--   active           a success (in the events or per the directory) within the last N days;
--   new_account      created within the last N days, no success yet: too new to call dormant;
--   not_evaluable    no success seen, and a source of the population does not cover every
--                    one of the last N days (unless the directory's own last successful
--                    sign-in says it is older than that: dormant per the directory);
--   never_signed_in  no success ever, every day of the period covered;
--   dormant          a success only before the last N days, every day covered.
-- Accounts that are no longer current leave; a row is written only when a value changes.
WITH period AS (
    SELECT (%(as_of)s::date - %(dormant_days)s + 1) AS first_day,
           ((%(as_of)s::date - %(dormant_days)s + 1)::timestamp AT TIME ZONE 'UTC') AS starts,
           ((%(as_of)s::date + 1)::timestamp AT TIME ZONE 'UTC') AS ends
),
accounts AS (
    SELECT a.*, p.source_ids, s.taken_at,
           coalesce(
               (SELECT m.external_user_id FROM audit.identity_mappings m
                WHERE m.alias = ANY (a.aliases) ORDER BY m.alias LIMIT 1),
               (SELECT x.external_user_id FROM audit.external_user_aliases x
                WHERE x.alias = ANY (a.aliases)
                ORDER BY array_position(a.aliases, x.alias) LIMIT 1)) AS person_id
    FROM audit.population_accounts a
    JOIN audit.populations p USING (population_id)
    JOIN audit.population_snapshots s ON s.snapshot_id = a.last_snapshot_id
    WHERE a.valid_to IS NULL AND NOT a.deleted
),
last_success AS (
    SELECT a.population_id, a.account_id, l.at, l.source_id
    FROM accounts a
    CROSS JOIN LATERAL (
        SELECT d.last_success_at AS at, d.source_id
        FROM reporting.daily_access d
        WHERE d.external_user_id = a.person_id AND d.source_id = ANY (a.source_ids)
          AND d.last_success_at IS NOT NULL AND d.day <= %(as_of)s
        ORDER BY d.last_success_at DESC, d.source_id
        LIMIT 1
    ) l
),
gaps AS (
    SELECT p.population_id,
           string_agg(g.source_id || ': ' || g.days || ' of ' || %(dormant_days)s
                      || ' days not evaluable (first ' || g.first_day || ', '
                      || g.first_status || ')', '; ' ORDER BY g.source_id) AS reason
    FROM audit.populations p
    CROSS JOIN LATERAL (
        SELECT s.source_id,
               count(*) AS days,
               min(c.day) AS first_day,
               (array_agg(coalesce(d.status, 'not_extracted') ORDER BY c.day))[1] AS first_status
        FROM unnest(p.source_ids) AS s (source_id)
        CROSS JOIN period
        CROSS JOIN LATERAL generate_series(period.first_day, %(as_of)s::date, interval '1 day')
            AS c (day)
        LEFT JOIN reporting.source_days d ON d.day = c.day::date AND d.source_id = s.source_id
        WHERE NOT coalesce(d.evaluable, false)
        GROUP BY s.source_id
    ) g
    GROUP BY p.population_id
),
judged AS (
    SELECT a.population_id, a.account_id, a.principal_name, a.display_name, a.person_id,
           a.user_type, a.enabled, a.account_created_at, a.source_ids, a.taken_at,
           l.at AS last_success_at, l.source_id AS last_success_source,
           a.last_successful_sign_in_at, a.last_sign_in_at,
           greatest(l.at, a.last_successful_sign_in_at) AS any_success,
           g.reason AS gap,
           period.starts, period.ends
    FROM accounts a
    CROSS JOIN period
    LEFT JOIN last_success l USING (population_id, account_id)
    LEFT JOIN gaps g USING (population_id)
),
rows AS (
    SELECT j.*,
           CASE WHEN j.any_success >= j.starts THEN 'active'
                WHEN j.account_created_at >= j.starts THEN 'new_account'
                WHEN j.gap IS NOT NULL AND j.last_successful_sign_in_at IS NOT NULL THEN 'dormant'
                WHEN j.gap IS NOT NULL THEN 'not_evaluable'
                WHEN j.any_success IS NULL THEN 'never_signed_in'
                ELSE 'dormant'
           END AS status
    FROM judged j
),
gone AS (
    DELETE FROM reporting.dormant_accounts t
    WHERE NOT EXISTS (SELECT 1 FROM accounts a
                      WHERE a.population_id = t.population_id AND a.account_id = t.account_id)
    RETURNING 1
)
INSERT INTO reporting.dormant_accounts AS t (
    population_id, account_id, principal_name, display_name, external_user_id, user_type,
    enabled, account_created_at, sources, last_success_at, last_success_source,
    directory_last_successful_sign_in_at, directory_last_sign_in_at, days_since_success,
    dormant_after_days, as_of, snapshot_taken_at, status, reason, build_id, built_at)
SELECT r.population_id, r.account_id, r.principal_name, r.display_name, r.person_id,
       r.user_type, r.enabled, r.account_created_at, r.source_ids, r.last_success_at,
       r.last_success_source, r.last_successful_sign_in_at, r.last_sign_in_at,
       (r.ends::date - 1 - (r.any_success AT TIME ZONE 'UTC')::date),
       %(dormant_days)s, %(as_of)s, r.taken_at, r.status,
       CASE r.status
           WHEN 'not_evaluable' THEN r.gap
           WHEN 'dormant' THEN
               CASE WHEN r.gap IS NOT NULL
                    THEN 'per the directory''s own last successful sign-in; ' || r.gap
                    ELSE 'no successful access since '
                         || (r.any_success AT TIME ZONE 'UTC')::date END
           WHEN 'never_signed_in' THEN 'no successful access in any covered day'
       END,
       %(build_id)s, %(built_at)s
FROM rows r
ON CONFLICT (population_id, account_id) DO UPDATE
SET principal_name = excluded.principal_name, display_name = excluded.display_name,
    external_user_id = excluded.external_user_id, user_type = excluded.user_type,
    enabled = excluded.enabled, account_created_at = excluded.account_created_at,
    sources = excluded.sources, last_success_at = excluded.last_success_at,
    last_success_source = excluded.last_success_source,
    directory_last_successful_sign_in_at = excluded.directory_last_successful_sign_in_at,
    directory_last_sign_in_at = excluded.directory_last_sign_in_at,
    days_since_success = excluded.days_since_success,
    dormant_after_days = excluded.dormant_after_days, as_of = excluded.as_of,
    snapshot_taken_at = excluded.snapshot_taken_at, status = excluded.status,
    reason = excluded.reason, build_id = excluded.build_id, built_at = excluded.built_at
WHERE (t.principal_name, t.display_name, t.external_user_id, t.user_type, t.enabled,
       t.account_created_at, t.sources, t.last_success_at, t.last_success_source,
       t.directory_last_successful_sign_in_at, t.directory_last_sign_in_at,
       t.days_since_success, t.dormant_after_days, t.as_of, t.snapshot_taken_at, t.status,
       t.reason)
      IS DISTINCT FROM
      (excluded.principal_name, excluded.display_name, excluded.external_user_id,
       excluded.user_type, excluded.enabled, excluded.account_created_at, excluded.sources,
       excluded.last_success_at, excluded.last_success_source,
       excluded.directory_last_successful_sign_in_at, excluded.directory_last_sign_in_at,
       excluded.days_since_success, excluded.dormant_after_days, excluded.as_of,
       excluded.snapshot_taken_at, excluded.status, excluded.reason)
