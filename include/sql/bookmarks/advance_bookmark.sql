-- Move a source's bookmark to the end of the batch being loaded, in the load's transaction, and
-- only if it still stands where the batch started: a batch extracted before another load moved
-- it can neither move it back nor forward past records that batch never saw. Returns 1 if the
-- bookmark moved (or was created), 0 if not.
WITH moved AS (
    UPDATE audit.bookmarks
    SET position = %(bookmark_to)s, batch_id = %(batch_id)s, updated_at = now()
    WHERE source_id = %(source_id)s
      AND position = %(bookmark_from)s::jsonb
    RETURNING 1
), created AS (
    INSERT INTO audit.bookmarks (source_id, position, batch_id)
    SELECT %(source_id)s, %(bookmark_to)s, %(batch_id)s
    WHERE %(bookmark_from)s::jsonb IS NULL
    ON CONFLICT (source_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved) + (SELECT count(*) FROM created)
