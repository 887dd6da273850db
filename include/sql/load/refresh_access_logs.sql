-- Recompute last access for the pairs in access_log_pairs from all of this source's events.
-- Access means a successful event; failures are in audit.access_events. Successful events
-- that retention removed with their partition are counted from audit.access_logs_retired
-- (one row per pair: their count and the latest of them), so a recompute after a purge stays
-- exact.
INSERT INTO audit.access_logs AS l (config_id, external_user_id, scraper_id, created_at, count,
                                    mfa, properties)
SELECT a.config_id,
       a.external_user_id,
       %(scraper_id)s,
       max(a.occurred_at),
       sum(a.events),
       (array_agg(a.mfa ORDER BY a.occurred_at DESC, a.event_id DESC))[1],
       jsonb_build_object(
           'last_event_id', (array_agg(a.event_id ORDER BY a.occurred_at DESC, a.event_id DESC))[1],
           'last_source_ip', (array_agg(a.source_ip ORDER BY a.occurred_at DESC, a.event_id DESC))[1],
           'source_id', %(source_id)s::text)
FROM (
    SELECT e.config_id, e.external_user_id, e.occurred_at, e.event_id, e.mfa, e.source_ip,
           1 AS events
    FROM audit.access_events e
    JOIN access_log_pairs USING (config_id, external_user_id)
    WHERE e.source_id = %(source_id)s
      AND e.outcome = 'success'
    UNION ALL
    SELECT r.config_id, r.external_user_id, r.last_at, r.last_event_id, r.mfa, r.last_source_ip,
           r.events
    FROM audit.access_logs_retired r
    JOIN access_log_pairs USING (config_id, external_user_id)
    WHERE r.source_id = %(source_id)s
) a
GROUP BY a.config_id, a.external_user_id
ON CONFLICT (config_id, external_user_id, scraper_id) DO UPDATE SET
    created_at = excluded.created_at, count = excluded.count, mfa = excluded.mfa,
    properties = excluded.properties
WHERE (l.created_at, l.count, l.mfa, l.properties)
      IS DISTINCT FROM (excluded.created_at, excluded.count, excluded.mfa, excluded.properties)
