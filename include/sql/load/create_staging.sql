-- Per-load staging tables; they vanish with the transaction. Staged events have the columns of
-- audit.access_events (so the two cannot drift apart), plus what resolution needs; the resolved
-- and lineage columns are filled later in the load.
CREATE TEMP TABLE staging_events (LIKE audit.access_events) ON COMMIT DROP;
ALTER TABLE staging_events
    ALTER COLUMN external_user_id DROP NOT NULL,
    ALTER COLUMN batch_id DROP NOT NULL,
    ALTER COLUMN ingested_at DROP NOT NULL,
    ADD COLUMN actor_alias_id text,
    ADD COLUMN actor_alias_id_kind text,
    ADD COLUMN actor_alias_name text,
    ADD COLUMN candidate_user_id uuid NOT NULL,
    -- new / changed / same against the warehouse, and what a changed event was resolved to
    ADD COLUMN change_kind text NOT NULL DEFAULT 'new',
    ADD COLUMN previous_config_id uuid,
    ADD COLUMN previous_external_user_id uuid,
    ADD COLUMN previous_occurred_at timestamptz,
    -- landing order, so that the last of two copies of an event wins
    ADD COLUMN staged_no bigint GENERATED ALWAYS AS IDENTITY,
    -- a table that lives one transaction is not worth compressing (pglz cost more than the
    -- rest of staging)
    ALTER COLUMN properties SET STORAGE EXTERNAL;
CREATE TEMP TABLE staging_quarantine (
    record_key   text,
    payload_hash text NOT NULL,
    payload      jsonb NOT NULL,
    raw          bytea,
    reasons      text[] NOT NULL
) ON COMMIT DROP;
-- The ancestors of object-path targets (server > database > schema), and the targets' parents.
CREATE TEMP TABLE staging_config_items (
    id          uuid PRIMARY KEY,
    type        text NOT NULL,
    external_id text NOT NULL,
    name        text,
    parent_id   uuid
) ON COMMIT DROP;
