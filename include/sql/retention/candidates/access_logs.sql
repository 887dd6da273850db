-- audit.access_logs whose last access is older than the cutoff. A log sums every access up
-- to its last one: a hold keeps it when its period starts before that last access.
SELECT t.ctid AS row_id, s.source_id, t.created_at AS at,
       t.config_id::text || '/' || t.external_user_id::text AS key,
       1 AS weight,
       'legal hold ' || h.hold_id AS kept_by
FROM audit.access_logs t
JOIN audit.sources s ON s.source_uuid = t.scraper_id
LEFT JOIN LATERAL (
    SELECT etl.first_hold(%(holds)s::jsonb, s.source_id,
                          tstzrange(NULL, t.created_at, '(]')) AS hold_id
) h ON true
WHERE t.created_at < %(cutoff)s
  AND CASE WHEN %(source_id)s::text IS NULL THEN s.source_id <> ALL (%(overridden)s::text[])
           ELSE s.source_id = %(source_id)s::text END
