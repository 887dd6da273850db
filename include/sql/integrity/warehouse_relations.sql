-- Every table and view of the warehouse's schemas, with its bytea columns (records kept raw).
SELECT c.table_schema, c.table_name,
       coalesce(array_agg(c.column_name::text ORDER BY c.ordinal_position)
                FILTER (WHERE c.data_type = 'bytea'), '{}')
FROM information_schema.columns c
WHERE c.table_schema = ANY(%(schemas)s)
GROUP BY 1, 2
ORDER BY 1, 2
