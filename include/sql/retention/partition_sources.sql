-- The sources with rows in one partition: a loose scan of its primary key (source_id first),
-- a few index probes per source however many rows the partition holds.
WITH RECURSIVE found AS (
    (SELECT source_id FROM {partition} ORDER BY source_id LIMIT 1)
    UNION ALL
    SELECT (SELECT p.source_id FROM {partition} p
            WHERE p.source_id > found.source_id ORDER BY p.source_id LIMIT 1)
    FROM found
    WHERE found.source_id IS NOT NULL
)
SELECT source_id FROM found WHERE source_id IS NOT NULL
