-- Every access_review row as of the as-of day: active days in the last short_days and
-- long_days (a day with an event that was not a failure), events and MFA over long_days, what
-- the person is (stub; guest, disabled, deleted per the current population accounts that name
-- them: NULL where none does), and whether every source of the pair covered each of the last
-- long_days. The window reads at most long_days of daily rows, whatever the history; a row is
-- written only when a value changes.
WITH recent AS (
    SELECT d.external_user_id, d.config_id,
           count(DISTINCT d.day) FILTER (WHERE d.day > %(as_of)s - %(short_days)s
                                           AND d.successes + d.unknown_outcome > 0)
               AS active_short,
           count(DISTINCT d.day) FILTER (WHERE d.successes + d.unknown_outcome > 0)
               AS active_long,
           sum(d.events) AS events,
           sum(d.with_mfa) AS with_mfa,
           sum(d.without_mfa) AS without_mfa,
           sum(d.mfa_unknown) AS mfa_unknown
    FROM reporting.daily_access d
    WHERE d.day > %(as_of)s - %(long_days)s AND d.day <= %(as_of)s
      AND d.external_user_id IS NOT NULL
    GROUP BY d.external_user_id, d.config_id
),
coverage AS (
    SELECT s.source_id,
           count(*) FILTER (WHERE d.evaluable) = %(long_days)s AS covered
    FROM audit.sources s
    LEFT JOIN reporting.source_days d
      ON d.source_id = s.source_id
     AND d.day > %(as_of)s - %(long_days)s AND d.day <= %(as_of)s
    GROUP BY s.source_id
),
people AS (
    SELECT u.id AS external_user_id, u.display_name, u.is_stub,
           bool_or(a.user_type = 'guest' AND NOT a.deleted) AS is_guest,
           bool_and(NOT a.deleted AND a.enabled IS FALSE)
               FILTER (WHERE NOT a.deleted) AS all_live_disabled,
           bool_and(a.deleted) AS is_deleted,
           count(a.account_id) AS accounts
    FROM audit.external_users u
    LEFT JOIN LATERAL (
        SELECT array_agg(x.alias) AS aliases
        FROM (SELECT alias FROM audit.external_user_aliases WHERE external_user_id = u.id
              UNION
              SELECT alias FROM audit.identity_mappings WHERE external_user_id = u.id) x
    ) al ON true
    LEFT JOIN audit.population_accounts a
      ON a.valid_to IS NULL AND a.aliases && al.aliases
    WHERE u.id IN (SELECT external_user_id FROM reporting.access_review)
    GROUP BY u.id, u.display_name, u.is_stub
),
computed AS (
    SELECT r.external_user_id, r.config_id,
           p.display_name,
           coalesce(x.active_short, 0)::integer AS active_days_30,
           coalesce(x.active_long, 0)::integer AS active_days_90,
           coalesce(x.events, 0)::bigint AS events_90,
           round(x.with_mfa::numeric / nullif(x.with_mfa + x.without_mfa, 0), 4) AS mfa_share_90,
           coalesce(x.mfa_unknown, 0)::bigint AS mfa_unknown_90,
           coalesce(p.is_stub, true) AS is_stub,
           CASE WHEN p.accounts > 0 THEN coalesce(p.is_guest, false) END AS is_guest,
           CASE WHEN p.accounts > 0 THEN coalesce(p.all_live_disabled, false) END AS is_disabled,
           CASE WHEN p.accounts > 0 THEN p.is_deleted END AS is_deleted,
           (SELECT coalesce(bool_and(c.covered), false)
            FROM coverage c WHERE c.source_id = ANY (r.sources)) AS evaluable
    FROM reporting.access_review r
    LEFT JOIN recent x
      ON x.external_user_id = r.external_user_id AND x.config_id IS NOT DISTINCT FROM r.config_id
    LEFT JOIN people p ON p.external_user_id = r.external_user_id
)
UPDATE reporting.access_review r
SET display_name = c.display_name, active_days_30 = c.active_days_30,
    active_days_90 = c.active_days_90, events_90 = c.events_90,
    mfa_share_90 = c.mfa_share_90, mfa_unknown_90 = c.mfa_unknown_90, is_stub = c.is_stub,
    is_guest = c.is_guest, is_disabled = c.is_disabled, is_deleted = c.is_deleted,
    as_of = %(as_of)s, evaluable = c.evaluable,
    status = CASE WHEN c.evaluable THEN 'complete' ELSE 'not_evaluable' END,
    build_id = %(build_id)s, built_at = %(built_at)s
FROM computed c
WHERE r.external_user_id = c.external_user_id
  AND r.config_id IS NOT DISTINCT FROM c.config_id
  AND (r.display_name, r.active_days_30, r.active_days_90, r.events_90, r.mfa_share_90,
       r.mfa_unknown_90, r.is_stub, r.is_guest, r.is_disabled, r.is_deleted, r.as_of,
       r.evaluable)
      IS DISTINCT FROM
      (c.display_name, c.active_days_30, c.active_days_90, c.events_90, c.mfa_share_90,
       c.mfa_unknown_90, c.is_stub, c.is_guest, c.is_disabled, c.is_deleted, %(as_of)s::date,
       c.evaluable)
