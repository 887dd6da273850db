-- The latest load of one feed (by DAG): what it read and what it did with it.
SELECT extracted, loaded, quarantined, excluded, details -> 'excluded_by_rule', inserted,
       updated, unchanged
FROM audit.batches
WHERE dag_id = %(dag_id)s
ORDER BY sequence_no DESC
LIMIT 1
