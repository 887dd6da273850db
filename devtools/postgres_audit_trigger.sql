-- A trigger-based audit trail in the layout of 2ndQuadrant's audit-trigger ("audit.sql", the
-- wiki's Audit_trigger_91plus), written for this project's tests and demo: the source kind
-- `postgres_audit_trigger` reads the table it creates. Not the original script: same table
-- layout and the same `audit.audit_table(regclass, ...)` entry points, our own code.
--
-- The file has sections introduced by `-- @section <name>`; devtools/postgres_audit_trigger.py
-- runs `schema`, either `hstore` or `jsonb`, and then `common`, with {{payload}} replaced by that type (the
-- type of row_data and changed_fields). Installations differ exactly there: the original uses
-- hstore, many forks use jsonb, and the embedded Postgres of the tests ships no hstore.

-- @section schema
CREATE SCHEMA IF NOT EXISTS audit;
REVOKE ALL ON SCHEMA audit FROM public;
COMMENT ON SCHEMA audit IS 'Trigger-based audit trail of row changes (audit-trigger layout)';

-- @section common

CREATE TABLE audit.logged_actions (
    event_id          bigserial PRIMARY KEY,
    schema_name       text NOT NULL,
    table_name        text NOT NULL,
    relid             oid NOT NULL,
    session_user_name text,
    action_tstamp_tx  timestamptz NOT NULL,  -- transaction start
    action_tstamp_stm timestamptz NOT NULL,  -- statement start
    action_tstamp_clk timestamptz NOT NULL,  -- when the trigger ran
    transaction_id    bigint,                -- txid_current(): epoch-extended, comparable
                                             -- with txid_snapshot_xmin()
    application_name  text,
    client_addr       inet,
    client_port       integer,
    client_query      text,
    action            text NOT NULL CHECK (action IN ('I', 'D', 'U', 'T')),
    row_data          {{payload}},
    changed_fields    {{payload}},
    statement_only    boolean NOT NULL
);
-- Nobody but the owner reads or writes the trail directly: the trigger function runs as its
-- owner (SECURITY DEFINER), readers get SELECT explicitly.
REVOKE ALL ON audit.logged_actions FROM public;
CREATE INDEX logged_actions_action_tstamp_tx_stm_idx ON audit.logged_actions (action_tstamp_stm);
CREATE INDEX logged_actions_action_idx ON audit.logged_actions (action);
-- Not in the original layout: the reader re-reads rows of transactions that were still running
-- at its previous read (transaction_id >= that snapshot's xmin); this keeps that an index range.
CREATE INDEX logged_actions_transaction_id_idx ON audit.logged_actions (transaction_id);

CREATE FUNCTION audit.if_modified_func() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $body$
DECLARE
    -- trigger arguments: [0] record the statement text (default true), [1] columns to leave out
    with_query boolean := TG_NARGS = 0 OR TG_ARGV[0]::boolean;
    ignored text[] := CASE WHEN TG_NARGS > 1 THEN TG_ARGV[1]::text[] ELSE ARRAY[]::text[] END;
    image {{payload}};
    changes {{payload}};
BEGIN
    IF TG_WHEN <> 'AFTER' THEN
        RAISE EXCEPTION 'audit.if_modified_func() may only run as an AFTER trigger';
    END IF;
    IF TG_LEVEL = 'ROW' THEN
        IF TG_OP = 'UPDATE' THEN
            image := audit.row_image(OLD, ignored);
            changes := audit.row_changes(OLD, NEW, ignored);
            IF changes IS NULL THEN
                RETURN NULL;  -- only ignored columns changed: nothing to record
            END IF;
        ELSIF TG_OP = 'DELETE' THEN
            image := audit.row_image(OLD, ignored);
        ELSIF TG_OP = 'INSERT' THEN
            image := audit.row_image(NEW, ignored);
        END IF;
    END IF;
    INSERT INTO audit.logged_actions (
        schema_name, table_name, relid, session_user_name,
        action_tstamp_tx, action_tstamp_stm, action_tstamp_clk, transaction_id,
        application_name, client_addr, client_port, client_query,
        action, row_data, changed_fields, statement_only)
    VALUES (
        TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_RELID, session_user::text,
        current_timestamp, statement_timestamp(), clock_timestamp(), txid_current(),
        current_setting('application_name', true), inet_client_addr(), inet_client_port(),
        CASE WHEN with_query THEN current_query() END,
        substr(TG_OP, 1, 1), image, changes, TG_LEVEL = 'STATEMENT');
    RETURN NULL;
END
$body$;

-- Start auditing a table: row triggers for INSERT/UPDATE/DELETE (or statement triggers only,
-- when audit_rows is false) and a statement trigger for TRUNCATE. Re-running replaces them.
CREATE FUNCTION audit.audit_table(
    target_table regclass, audit_rows boolean, audit_query_text boolean, ignored_cols text[]
) RETURNS void LANGUAGE plpgsql AS $body$
DECLARE
    arguments text := format('%L, %L', audit_query_text, ignored_cols);
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS audit_trigger_row ON %s', target_table);
    EXECUTE format('DROP TRIGGER IF EXISTS audit_trigger_stm ON %s', target_table);
    IF audit_rows THEN
        EXECUTE format(
            'CREATE TRIGGER audit_trigger_row AFTER INSERT OR UPDATE OR DELETE ON %s '
            'FOR EACH ROW EXECUTE FUNCTION audit.if_modified_func(%s)', target_table, arguments);
        EXECUTE format(
            'CREATE TRIGGER audit_trigger_stm AFTER TRUNCATE ON %s '
            'FOR EACH STATEMENT EXECUTE FUNCTION audit.if_modified_func(%s)',
            target_table, arguments);
    ELSE
        EXECUTE format(
            'CREATE TRIGGER audit_trigger_stm AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
            'FOR EACH STATEMENT EXECUTE FUNCTION audit.if_modified_func(%s)',
            target_table, arguments);
    END IF;
END
$body$;

CREATE FUNCTION audit.audit_table(
    target_table regclass, audit_rows boolean, audit_query_text boolean
) RETURNS void LANGUAGE sql AS $body$
    SELECT audit.audit_table(target_table, audit_rows, audit_query_text, ARRAY[]::text[]);
$body$;

CREATE FUNCTION audit.audit_table(target_table regclass) RETURNS void LANGUAGE sql AS $body$
    SELECT audit.audit_table(target_table, true, true);
$body$;

-- @section hstore
CREATE EXTENSION IF NOT EXISTS hstore;

-- The row as key/value pairs, without the ignored columns.
CREATE FUNCTION audit.row_image(r anyelement, ignored text[]) RETURNS hstore
LANGUAGE sql IMMUTABLE AS $body$
    SELECT hstore(r) - ignored;
$body$;

-- The new values of the columns an UPDATE changed (NULL when none but ignored ones did).
CREATE FUNCTION audit.row_changes(old_row anyelement, new_row anyelement, ignored text[])
RETURNS hstore LANGUAGE sql IMMUTABLE AS $body$
    SELECT nullif((hstore(new_row) - hstore(old_row)) - ignored, ''::hstore);
$body$;

-- @section jsonb
CREATE FUNCTION audit.row_image(r anyelement, ignored text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $body$
    SELECT to_jsonb(r) - ignored;
$body$;

CREATE FUNCTION audit.row_changes(old_row anyelement, new_row anyelement, ignored text[])
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $body$
    SELECT jsonb_object_agg(n.key, n.value)
    FROM jsonb_each(to_jsonb(new_row) - ignored) AS n
    WHERE n.value IS DISTINCT FROM to_jsonb(old_row) -> n.key;
$body$;
