-- Recompute last access for the pairs in access_log_pairs from all of this source's events.
-- Access means a successful event; failures are in audit.access_events.
INSERT INTO audit.access_logs AS l (config_id, external_user_id, scraper_id, created_at, count,
                                    mfa, properties)
SELECT e.config_id,
       e.external_user_id,
       %(scraper_id)s,
       max(e.occurred_at),
       count(*),
       (array_agg(e.mfa ORDER BY e.occurred_at DESC, e.event_id DESC))[1],
       jsonb_build_object(
           'last_event_id', (array_agg(e.event_id ORDER BY e.occurred_at DESC, e.event_id DESC))[1],
           'last_source_ip', (array_agg(e.source_ip ORDER BY e.occurred_at DESC, e.event_id DESC))[1],
           'source_id', %(source_id)s::text)
FROM audit.access_events e
JOIN access_log_pairs USING (config_id, external_user_id)
WHERE e.source_id = %(source_id)s
  AND e.outcome = 'success'
GROUP BY e.config_id, e.external_user_id
ON CONFLICT (config_id, external_user_id, scraper_id) DO UPDATE SET
    created_at = excluded.created_at, count = excluded.count, mfa = excluded.mfa,
    properties = excluded.properties
WHERE (l.created_at, l.count, l.mfa, l.properties)
      IS DISTINCT FROM (excluded.created_at, excluded.count, excluded.mfa, excluded.properties)
