-- Before the upsert: the stored rows this load's changed events are about to replace (updated
-- in place, or deleted because the event moved), with the batch that wrote them. The load's
-- manifest entry takes them out of that batch's expected rows (integrity/insert_load_entry.sql).
-- One index lookup per changed event (OFFSET 0 keeps the lookup from being turned into a join
-- that could read whole partitions); a first load has no changed events and reads nothing.
CREATE TEMP TABLE manifest_taken_over ON COMMIT DROP AS
SELECT e.batch_id, e.event_id, e.occurred_at, e.fingerprint
FROM staging_events s
CROSS JOIN LATERAL (
    SELECT e.batch_id, e.event_id, e.occurred_at, audit.event_fingerprint(e) AS fingerprint
    FROM audit.access_events e
    WHERE e.source_id = s.source_id
      AND e.event_id = s.event_id
      AND e.occurred_at = s.previous_occurred_at
    OFFSET 0
) e
WHERE s.change_kind = 'changed'
