-- Before a partition goes: its successful events, per (config item, person, source), added to
-- audit.access_logs_retired, which a later recompute of the pair's access log reads
-- (load/refresh_access_logs.sql). audit.access_logs itself is left as it is: it already
-- counts these events.
INSERT INTO audit.access_logs_retired AS r (config_id, external_user_id, source_id, events,
                                            last_at, last_event_id, mfa, last_source_ip)
SELECT e.config_id, e.external_user_id, e.source_id, count(*),
       max(e.occurred_at),
       (array_agg(e.event_id ORDER BY e.occurred_at DESC, e.event_id DESC))[1],
       (array_agg(e.mfa ORDER BY e.occurred_at DESC, e.event_id DESC))[1],
       (array_agg(e.source_ip ORDER BY e.occurred_at DESC, e.event_id DESC))[1]
FROM {partition} e
WHERE e.outcome = 'success' AND e.config_id IS NOT NULL
GROUP BY e.config_id, e.external_user_id, e.source_id
ON CONFLICT (config_id, external_user_id, source_id) DO UPDATE
SET events = r.events + excluded.events,
    last_at = greatest(r.last_at, excluded.last_at),
    last_event_id = CASE WHEN (excluded.last_at, excluded.last_event_id) > (r.last_at, r.last_event_id)
                         THEN excluded.last_event_id ELSE r.last_event_id END,
    mfa = CASE WHEN (excluded.last_at, excluded.last_event_id) > (r.last_at, r.last_event_id)
               THEN excluded.mfa ELSE r.mfa END,
    last_source_ip = CASE WHEN (excluded.last_at, excluded.last_event_id)
                               > (r.last_at, r.last_event_id)
                          THEN excluded.last_source_ip ELSE r.last_source_ip END
