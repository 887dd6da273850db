-- An event (natural key: source_id, event_id) staged twice in one batch is kept once: the one
-- landed last, the source's latest word. Returns how many were dropped, and how many of those
-- differed from the one kept (content or time), which the batch row reports.
WITH ranked AS (
    SELECT ctid AS row_ctid, content_hash,
           first_value(content_hash) OVER latest AS kept_hash,
           row_number() OVER latest AS position
    FROM staging_events
    WINDOW latest AS (PARTITION BY source_id, event_id ORDER BY staged_no DESC)
), dropped AS (
    DELETE FROM staging_events s
    USING ranked r
    WHERE s.ctid = r.row_ctid AND r.position > 1
    RETURNING r.content_hash IS DISTINCT FROM r.kept_hash AS conflicting
)
SELECT count(*), count(*) FILTER (WHERE conflicting) FROM dropped
