-- The source registry (issue "One source interface"): bookmark-driven batches, records that
-- jsonb cannot hold, and repeatable view files.

-- A batch is chosen either by a time window or by a forward-only bookmark; bookmark batches
-- record the position they started after and the position of their last page.
ALTER TABLE landing.extract_batches
    ALTER COLUMN window_start DROP NOT NULL,
    ALTER COLUMN window_end DROP NOT NULL,
    ADD COLUMN bookmark_from jsonb,
    ADD COLUMN bookmark_to jsonb,
    ADD CONSTRAINT extract_batches_window_or_bookmark
        CHECK ((window_start IS NOT NULL AND window_end IS NOT NULL)
               OR (window_start IS NULL AND window_end IS NULL));

ALTER TABLE audit.batches
    ALTER COLUMN window_start DROP NOT NULL,
    ALTER COLUMN window_end DROP NOT NULL,
    ADD COLUMN bookmark_from jsonb,
    ADD COLUMN bookmark_to jsonb;

-- A record whose JSON jsonb cannot store (a NUL, a lone surrogate) is kept byte for byte in
-- raw (UTF-8 JSON text, non-ASCII escaped) and quarantined with the reason.
ALTER TABLE landing.records
    ALTER COLUMN payload DROP NOT NULL,
    ADD COLUMN raw bytea,
    ADD CONSTRAINT records_payload_or_raw CHECK ((payload IS NULL) <> (raw IS NULL));

ALTER TABLE dq.quarantine ADD COLUMN raw bytea;

-- Forward-only bookmarks: where the next extract of a source starts (strictly after), moved
-- only by the committed load of the batch that reached it.
CREATE TABLE audit.bookmarks (
    source_id  text PRIMARY KEY,
    position   jsonb NOT NULL,
    batch_id   uuid NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Repeatable scripts (include/sql/views/: views, functions): re-applied, all in order, when any checksum changes.
CREATE TABLE etl.repeatable_scripts (
    name       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
