-- The history and re-processing links of the chosen quarantine rows n in (lo, hi].
WITH history AS (
    DELETE FROM dq.quarantine_history h
    USING retention_doomed d
    WHERE d.n > %(lo)s AND d.n <= %(hi)s AND h.quarantine_id = d.key::bigint
    RETURNING 1
),
links AS (
    DELETE FROM dq.reprocess_records r
    USING retention_doomed d
    WHERE d.n > %(lo)s AND d.n <= %(hi)s AND r.quarantine_id = d.key::bigint
    RETURNING 1
)
SELECT (SELECT count(*) FROM history), (SELECT count(*) FROM links)
