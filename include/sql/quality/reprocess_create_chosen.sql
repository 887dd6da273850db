-- The quarantine rows one re-processing has chosen; gone with the transaction that lands them.
CREATE TEMP TABLE reprocess_chosen (
    quarantine_id bigint NOT NULL,
    from_batch_id uuid NOT NULL,
    payload       jsonb NOT NULL,
    raw           bytea,
    window_start  timestamptz,
    window_end    timestamptz,
    page_no       integer NOT NULL,
    record_no     integer NOT NULL
) ON COMMIT DROP
