-- audit.access_logs_retired rows whose access log is gone (a recompute found no access left
-- but these) and whose last access is older than the cutoff; those of a kept log go with it.
SELECT t.ctid AS row_id, t.source_id, t.last_at AS at,
       t.config_id::text || '/' || t.external_user_id::text AS key,
       1 AS weight,
       'legal hold ' || h.hold_id AS kept_by
FROM audit.access_logs_retired t
LEFT JOIN LATERAL (
    SELECT etl.first_hold(%(holds)s::jsonb, t.source_id,
                          tstzrange(NULL, t.last_at, '(]')) AS hold_id
) h ON true
WHERE t.last_at < %(cutoff)s
  AND NOT EXISTS (SELECT FROM audit.access_logs l
                  JOIN audit.sources s ON s.source_uuid = l.scraper_id
                  WHERE l.config_id = t.config_id AND l.external_user_id = t.external_user_id
                    AND s.source_id = t.source_id)
  AND CASE WHEN %(source_id)s::text IS NULL THEN t.source_id <> ALL (%(overridden)s::text[])
           ELSE t.source_id = %(source_id)s::text END
