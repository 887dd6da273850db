-- The rows this purge removes (none that a hold or another reason keeps), oldest first, up to
-- max_rows (counted in weight: a landing batch weighs its records).
INSERT INTO retention_doomed (row_id, source_id, at, key)
SELECT row_id, source_id, at, key
FROM (
    SELECT c.row_id, c.source_id, c.at, c.key,
           sum(c.weight) OVER (ORDER BY c.at, c.key, c.row_id) - c.weight AS before
    FROM ({candidates}) c
    WHERE c.kept_by IS NULL
) chosen
WHERE before < %(max_rows)s
ORDER BY at, key, row_id
