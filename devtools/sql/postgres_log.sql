-- The PostgreSQL docs' postgres_log table (csvlog of PostgreSQL 14 and later), for the demo's
-- postgres_csvlog source in table mode; rows are loaded with COPY from the server's csv files.
CREATE TABLE IF NOT EXISTS public.postgres_log (
  log_time timestamp(3) with time zone, user_name text, database_name text,
  process_id integer, connection_from text, session_id text, session_line_num bigint,
  command_tag text, session_start_time timestamp with time zone,
  virtual_transaction_id text, transaction_id bigint, error_severity text,
  sql_state_code text, message text, detail text, hint text, internal_query text,
  internal_query_pos integer, context text, query text, query_pos integer, location text,
  application_name text, backend_type text, leader_pid integer, query_id bigint,
  PRIMARY KEY (session_id, session_line_num)
);
