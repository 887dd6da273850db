-- First and last access, sources, last IP and country of the pairs whose days were rebuilt,
-- from their daily rows (an index per person); pairs left without any daily row leave.
WITH pairs AS (
    SELECT DISTINCT external_user_id, config_id FROM touched_pairs
),
history AS (
    SELECT p.external_user_id, p.config_id,
           max(d.resource_type) AS resource_type,
           max(d.resource_name) AS resource_name,
           max(d.person) AS person,
           array_agg(DISTINCT d.source_id ORDER BY d.source_id) AS sources,
           min(d.first_at) AS first_access_at,
           max(d.last_at) AS last_access_at,
           max(d.last_success_at) AS last_success_at,
           (array_agg(d.last_ip ORDER BY d.last_at DESC, d.source_id)
                FILTER (WHERE d.last_ip IS NOT NULL))[1] AS last_ip,
           (array_agg(d.last_country ORDER BY d.last_at DESC, d.source_id)
                FILTER (WHERE d.last_country IS NOT NULL))[1] AS last_country
    FROM pairs p
    JOIN reporting.daily_access d
      ON d.external_user_id = p.external_user_id
     AND d.config_id IS NOT DISTINCT FROM p.config_id
    GROUP BY p.external_user_id, p.config_id
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
