-- First and last access, sources, last IP and country of the pairs whose days were rebuilt.
-- Each is an index seek on the pair's daily rows (daily_access_person: person, resource, day),
-- first or last by day, so the cost does not grow with the pair's history; the sources are
-- those stored before plus those of the rebuilt days (sources ever seen). Pairs left without
-- any daily row leave.
WITH pairs AS (
    SELECT DISTINCT external_user_id, config_id FROM touched_pairs
),
history AS (
    SELECT p.external_user_id, p.config_id,
           latest.resource_type, latest.resource_name, latest.person,
           (SELECT array_agg(DISTINCT s ORDER BY s)
            FROM unnest(coalesce(r.sources, '{}') || coalesce(recent.sources, '{}')) AS s)
               AS sources,
           earliest.first_at AS first_access_at,
           latest.last_at AS last_access_at,
           success.last_success_at,
           ip.last_ip,
           country.last_country
    FROM pairs p
    LEFT JOIN reporting.access_review r
      ON r.external_user_id = p.external_user_id
     AND r.config_id IS NOT DISTINCT FROM p.config_id
    CROSS JOIN LATERAL (
        SELECT d.first_at FROM reporting.daily_access d
        WHERE d.external_user_id = p.external_user_id
          AND coalesce(d.config_id, '00000000-0000-0000-0000-000000000000')
              = coalesce(p.config_id, '00000000-0000-0000-0000-000000000000')
        ORDER BY d.day, d.first_at LIMIT 1) earliest
    CROSS JOIN LATERAL (
        SELECT d.last_at, d.resource_type, d.resource_name, d.person
        FROM reporting.daily_access d
        WHERE d.external_user_id = p.external_user_id
          AND coalesce(d.config_id, '00000000-0000-0000-0000-000000000000')
              = coalesce(p.config_id, '00000000-0000-0000-0000-000000000000')
        ORDER BY d.day DESC, d.last_at DESC LIMIT 1) latest
    LEFT JOIN LATERAL (
        SELECT d.last_success_at FROM reporting.daily_access d
        WHERE d.external_user_id = p.external_user_id
          AND coalesce(d.config_id, '00000000-0000-0000-0000-000000000000')
              = coalesce(p.config_id, '00000000-0000-0000-0000-000000000000') AND d.last_success_at IS NOT NULL
        ORDER BY d.day DESC, d.last_success_at DESC LIMIT 1) success ON true
    LEFT JOIN LATERAL (
        SELECT d.last_ip FROM reporting.daily_access d
        WHERE d.external_user_id = p.external_user_id
          AND coalesce(d.config_id, '00000000-0000-0000-0000-000000000000')
              = coalesce(p.config_id, '00000000-0000-0000-0000-000000000000') AND d.last_ip IS NOT NULL
        ORDER BY d.day DESC, d.last_at DESC, d.source_id LIMIT 1) ip ON true
    LEFT JOIN LATERAL (
        SELECT d.last_country FROM reporting.daily_access d
        WHERE d.external_user_id = p.external_user_id
          AND coalesce(d.config_id, '00000000-0000-0000-0000-000000000000')
              = coalesce(p.config_id, '00000000-0000-0000-0000-000000000000') AND d.last_country IS NOT NULL
        ORDER BY d.day DESC, d.last_at DESC, d.source_id LIMIT 1) country ON true
    LEFT JOIN LATERAL (
        SELECT array_agg(DISTINCT d.source_id) AS sources
        FROM reporting.daily_access d
        WHERE d.external_user_id = p.external_user_id
          AND coalesce(d.config_id, '00000000-0000-0000-0000-000000000000')
              = coalesce(p.config_id, '00000000-0000-0000-0000-000000000000')
          AND d.day = ANY (%(days)s)) recent ON true
),
gone AS (
    DELETE FROM reporting.access_review r
    USING pairs p
    WHERE r.external_user_id = p.external_user_id
      AND r.config_id IS NOT DISTINCT FROM p.config_id
      AND NOT EXISTS (SELECT 1 FROM history h
                      WHERE h.external_user_id = p.external_user_id
                        AND h.config_id IS NOT DISTINCT FROM p.config_id)
    RETURNING 1
)
INSERT INTO reporting.access_review AS r (
    external_user_id, config_id, resource_type, resource_name, person, sources,
    first_access_at, last_access_at, last_success_at, last_ip, last_country,
    active_days_30, active_days_90, events_90, mfa_unknown_90, is_stub, as_of, evaluable,
    status, build_id, built_at)
SELECT h.external_user_id, h.config_id, h.resource_type, h.resource_name, h.person, h.sources,
       h.first_access_at, h.last_access_at, h.last_success_at, h.last_ip, h.last_country,
       0, 0, 0, 0, false, %(as_of)s, false, 'not_evaluable', %(build_id)s, %(built_at)s
FROM history h
ON CONFLICT (external_user_id, coalesce(config_id, '00000000-0000-0000-0000-000000000000'))
DO UPDATE
SET resource_type = excluded.resource_type, resource_name = excluded.resource_name,
    person = excluded.person, sources = excluded.sources,
    first_access_at = excluded.first_access_at, last_access_at = excluded.last_access_at,
    last_success_at = excluded.last_success_at, last_ip = excluded.last_ip,
    last_country = excluded.last_country, build_id = excluded.build_id,
    built_at = excluded.built_at
WHERE (r.resource_type, r.resource_name, r.person, r.sources, r.first_access_at,
       r.last_access_at, r.last_success_at, r.last_ip, r.last_country)
      IS DISTINCT FROM
      (excluded.resource_type, excluded.resource_name, excluded.person, excluded.sources,
       excluded.first_access_at, excluded.last_access_at, excluded.last_success_at,
       excluded.last_ip, excluded.last_country)
