-- A recomputed pair left with no successful event of this source (neither stored nor removed
-- by retention, audit.access_logs_retired) has no access log any more.
DELETE FROM audit.access_logs l
USING access_log_pairs p
WHERE l.config_id = p.config_id
  AND l.external_user_id = p.external_user_id
  AND l.scraper_id = %(scraper_id)s
  AND NOT EXISTS (SELECT FROM audit.access_events e
                  WHERE e.source_id = %(source_id)s
                    AND e.config_id = p.config_id
                    AND e.external_user_id = p.external_user_id
                    AND e.outcome = 'success')
  AND NOT EXISTS (SELECT FROM audit.access_logs_retired r
                  WHERE r.source_id = %(source_id)s
                    AND r.config_id = p.config_id
                    AND r.external_user_id = p.external_user_id)
