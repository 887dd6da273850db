-- Pairs that only gained new successful events: add them to the existing log (exact, since
-- these events were never counted) without reading the pair's history again.
INSERT INTO audit.access_logs AS l (config_id, external_user_id, scraper_id, created_at, count,
                                    mfa, properties)
SELECT s.config_id,
       s.external_user_id,
       %(scraper_id)s,
       max(s.occurred_at),
       count(*),
       (array_agg(s.mfa ORDER BY s.occurred_at DESC, s.event_id DESC))[1],
       jsonb_build_object(
           'last_event_id', (array_agg(s.event_id ORDER BY s.occurred_at DESC, s.event_id DESC))[1],
           'last_source_ip', (array_agg(s.source_ip ORDER BY s.occurred_at DESC, s.event_id DESC))[1],
           'source_id', %(source_id)s::text)
FROM staging_events s
WHERE s.change_kind = 'new'
  AND s.outcome = 'success'
  AND s.config_id IS NOT NULL
  AND NOT EXISTS (SELECT FROM access_log_pairs p
                  WHERE p.config_id = s.config_id AND p.external_user_id = s.external_user_id)
GROUP BY s.config_id, s.external_user_id
ON CONFLICT (config_id, external_user_id, scraper_id) DO UPDATE SET
    count = l.count + excluded.count,
    created_at = greatest(l.created_at, excluded.created_at),
    -- the latest access wins, ties broken by event id as in the full recompute
    mfa = CASE WHEN (excluded.created_at, excluded.properties->>'last_event_id')
                    > (l.created_at, l.properties->>'last_event_id')
               THEN excluded.mfa ELSE l.mfa END,
    properties = CASE WHEN (excluded.created_at, excluded.properties->>'last_event_id')
                           > (l.created_at, l.properties->>'last_event_id')
                      THEN excluded.properties ELSE l.properties END
