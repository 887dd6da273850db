-- The rows one purge removes, chosen once (n numbers them) and deleted in chunks of n.
CREATE TEMP TABLE IF NOT EXISTS retention_doomed (
    n         bigserial PRIMARY KEY,
    row_id    tid NOT NULL,
    source_id text,
    at        timestamptz,
    key       text
) ON COMMIT DROP
