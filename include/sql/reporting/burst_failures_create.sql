-- The failed sign-ins of the day being built (and of the window after it), indexed for the
-- sliding-window counts of bursts.sql.
CREATE TEMP TABLE burst_failures (
    occurred_at      timestamptz NOT NULL,
    source_ip        text,
    external_user_id uuid NOT NULL,
    source_id        text NOT NULL,
    lockout          boolean NOT NULL
) ON COMMIT DROP;
CREATE INDEX ON burst_failures (source_ip, occurred_at);
CREATE INDEX ON burst_failures (external_user_id, occurred_at);
