-- How many staged events the warehouse already holds (to tell inserts from updates: a
-- partitioned table cannot return xmax).
SELECT count(*)
FROM staging_events s
WHERE EXISTS (SELECT FROM audit.access_events e
              WHERE e.source_id = s.source_id
                AND e.event_id = s.event_id
                AND e.occurred_at = s.occurred_at)
