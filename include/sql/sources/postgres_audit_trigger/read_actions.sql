-- The trail's rows after a bookmark (cursor = the last event_id read, xmin = the snapshot xmin
-- of that read), in event_id order: every row past the cursor, and the rows at or below it that
-- transactions still running at that read have committed since (event_id comes from a sequence
-- at insert time, so such a row can commit after a larger one was read). Each half is an index
-- range (the primary key; an index on transaction_id, where the installation has one).
--
-- The columns are named, never `*`: row_data is read only when the column list names it (the source's
-- include_row_data), so a reading login may lack SELECT on that column. row_data and
-- changed_fields go through to_jsonb(), which reads hstore (through its cast) and jsonb alike.
SELECT c.event_id,
       jsonb_build_object(
           'event_id', c.event_id,
           'schema_name', c.schema_name,
           'table_name', c.table_name,
           'relid', c.relid::bigint,
           'session_user_name', c.session_user_name,
           'action_tstamp_tx', c.action_tstamp_tx,
           'action_tstamp_stm', c.action_tstamp_stm,
           'action_tstamp_clk', c.action_tstamp_clk,
           'transaction_id', c.transaction_id,
           'application_name', c.application_name,
           'client_addr', host(c.client_addr),
           'client_port', c.client_port,
           'client_query', c.client_query,
           'action', c.action,
           'statement_only', c.statement_only,
           'database', current_database()
       ) || {payload} AS record
FROM (
    SELECT {columns} FROM {table} AS la
    WHERE la.event_id <= %(cursor)s AND la.transaction_id >= %(xmin)s
    UNION ALL
    SELECT {columns} FROM {table} AS la
    WHERE la.event_id > %(cursor)s
) AS c
ORDER BY c.event_id
