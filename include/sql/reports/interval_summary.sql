-- One row per data interval of a source: the latest load of it, and what the warehouse now
-- holds for the interval (distinct people and applications, MFA coverage), and what the
-- source made the extract retry (429s; all retries: 429, 5xx, 401, unreadable pages) and how
-- long the extract held back to stay under the source's rate limit.
WITH latest AS (
    SELECT DISTINCT ON (window_start + lookback, window_end)
           batch_id, source_id, window_start + lookback AS interval_start,
           window_end AS interval_end, extracted, loaded, quarantined, inserted, updated,
           unchanged, duration_s
    FROM audit.batches
    WHERE source_id = %(source_id)s
      AND window_end > %(since)s
    ORDER BY window_start + lookback, window_end, sequence_no DESC
)
SELECT b.interval_start, b.interval_end, b.extracted, b.loaded, b.quarantined, b.inserted,
       b.updated, b.unchanged, s.users, s.apps,
       round(100.0 * s.mfa_known / nullif(s.events, 0), 1) AS mfa_known_pct,
       round(100.0 * s.mfa_true / nullif(s.mfa_known, 0), 1) AS mfa_true_pct,
       b.duration_s,
       (l.request_stats->>'throttled')::int AS throttled,
       (l.request_stats->>'retries')::int AS retried,
       round(coalesce((l.request_stats->>'paced_s')::numeric, 0), 1) AS paced_s
FROM latest b
LEFT JOIN landing.extract_batches l USING (batch_id)
CROSS JOIN LATERAL (
    SELECT count(*) AS events,
           count(DISTINCT external_user_id) AS users,
           count(DISTINCT config_id) AS apps,
           count(mfa) AS mfa_known,
           count(*) FILTER (WHERE mfa) AS mfa_true
    FROM audit.access_events e
    WHERE e.source_id = b.source_id
      AND e.occurred_at >= b.interval_start
      AND e.occurred_at < b.interval_end
) s
ORDER BY b.interval_start
