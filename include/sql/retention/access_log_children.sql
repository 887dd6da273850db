-- What audit.access_logs_retired keeps of the chosen access logs n in (lo, hi]: the pair's
-- log goes, so does the part of it retention had set aside.
WITH retired AS (
    DELETE FROM audit.access_logs_retired r
    USING retention_doomed d
    WHERE d.n > %(lo)s AND d.n <= %(hi)s
      AND r.source_id = d.source_id
      AND r.config_id::text || '/' || r.external_user_id::text = d.key
    RETURNING 1
)
SELECT count(*) FROM retired
