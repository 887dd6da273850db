-- One bounded statement: the chosen rows n in (lo, hi] of the purge's table, per source with
-- the oldest and newest time removed. A row a concurrent writer changed since it was chosen
-- has moved (a new ctid) and stays.
WITH gone AS (
    DELETE FROM {table} t
    WHERE t.ctid = ANY (ARRAY(SELECT d.row_id FROM retention_doomed d
                              WHERE d.n > %(lo)s AND d.n <= %(hi)s))
    RETURNING t.ctid AS row_id
)
SELECT d.source_id, count(*), min(d.at), max(d.at)
FROM gone g
JOIN retention_doomed d ON d.row_id = g.row_id AND d.n > %(lo)s AND d.n <= %(hi)s
GROUP BY d.source_id
