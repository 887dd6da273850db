-- One bounded statement: up to batch_rows records of one landing batch, after the key last
-- deleted (a keyset on the primary key, so no statement reads again what the one before it
-- removed); returns how many and the last key.
WITH gone AS (
    DELETE FROM landing.records r
    WHERE (r.batch_id, r.page_no, r.record_no) IN (
        SELECT x.batch_id, x.page_no, x.record_no FROM landing.records x
        WHERE x.batch_id = %(batch_id)s AND (x.page_no, x.record_no) > (%(page_no)s, %(record_no)s)
        ORDER BY x.page_no, x.record_no
        LIMIT %(batch_rows)s)
    RETURNING r.page_no, r.record_no
)
SELECT count(*),
       (SELECT page_no FROM gone ORDER BY page_no DESC, record_no DESC LIMIT 1),
       (SELECT record_no FROM gone ORDER BY page_no DESC, record_no DESC LIMIT 1)
FROM gone
