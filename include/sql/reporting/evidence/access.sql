-- Access in the review period per person, resource and source, from reporting.daily_access:
-- first and last access, active days, events by outcome and MFA. Days a source did not cover
-- have marker rows without a person there; they are left out here and shown per source and
-- day in coverage.csv. source_evaluable_days of period_days says on how many of the period's
-- days the source could speak: where it is fewer, no access on a day is not proof of none.
WITH period AS (
    SELECT %(period_start)s::date AS first_day,
           %(period_end)s::date AS last_day,
           %(period_end)s::date - %(period_start)s::date + 1 AS days
),
cover AS (
    SELECT sd.source_id, count(*) FILTER (WHERE sd.evaluable) AS evaluable_days
    FROM reporting.source_days sd, period
    WHERE sd.day BETWEEN period.first_day AND period.last_day
    GROUP BY sd.source_id
),
access AS (
    SELECT d.external_user_id,
           d.config_id,
           d.source_id,
           -- names as of the person's latest day in the period (one row per day and key)
           (array_agg(d.person ORDER BY d.day DESC))[1] AS person,
           (array_agg(d.resource_type ORDER BY d.day DESC))[1] AS resource_type,
           (array_agg(d.resource_name ORDER BY d.day DESC))[1] AS resource_name,
           min(d.first_at) AS first_access_at,
           max(d.last_at) AS last_access_at,
           max(d.last_success_at) AS last_success_at,
           count(DISTINCT d.day) FILTER (WHERE d.events > 0) AS active_days,
           sum(d.events)::bigint AS events,
           sum(d.successes)::bigint AS successes,
           sum(d.failures)::bigint AS failures,
           sum(d.unknown_outcome)::bigint AS unknown_outcome,
           sum(d.with_mfa)::bigint AS with_mfa,
           sum(d.without_mfa)::bigint AS without_mfa,
           sum(d.mfa_unknown)::bigint AS mfa_unknown,
           (array_agg(d.last_ip ORDER BY d.last_at DESC NULLS LAST, d.day DESC))[1] AS last_ip,
           (array_agg(d.last_country ORDER BY d.last_at DESC NULLS LAST, d.day DESC))[1]
               AS last_country
    FROM reporting.daily_access d, period
    WHERE d.day BETWEEN period.first_day AND period.last_day
      AND d.external_user_id IS NOT NULL
    GROUP BY d.external_user_id, d.config_id, d.source_id
)
SELECT a.person,
       a.external_user_id,
       a.resource_type,
       a.resource_name,
       a.config_id,
       a.source_id,
       a.first_access_at,
       a.last_access_at,
       a.last_success_at,
       a.active_days,
       a.events,
       a.successes,
       a.failures,
       a.unknown_outcome,
       a.with_mfa,
       a.without_mfa,
       a.mfa_unknown,
       a.last_ip,
       a.last_country,
       coalesce(cover.evaluable_days, 0) AS source_evaluable_days,
       period.days AS period_days
FROM access a
CROSS JOIN period
LEFT JOIN cover ON cover.source_id = a.source_id
ORDER BY a.person COLLATE "C" NULLS LAST, a.external_user_id,
         a.resource_name COLLATE "C" NULLS LAST, a.config_id NULLS FIRST, a.source_id COLLATE "C"
