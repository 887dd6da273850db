-- Data quality people can read: validation runs per window with their batch-level checks,
-- expectation results with observed values and shares, completeness evidence per window, and
-- quarantined records that can leave quarantine after a fix, keeping when and why.

ALTER TABLE dq.validation_runs
    ADD COLUMN dag_id       text,
    ADD COLUMN run_id       text,
    ADD COLUMN window_start timestamptz,
    ADD COLUMN window_end   timestamptz,
    -- passed: every expectation and check held; warned: only warnings did not;
    -- quarantined: rows broke expectations and went to dq.quarantine, the window loaded;
    -- failed: a batch-level check failed, nothing of the window loaded
    ADD COLUMN status       text NOT NULL DEFAULT 'passed'
        CHECK (status IN ('passed', 'warned', 'quarantined', 'failed')),
    ADD COLUMN warnings     integer NOT NULL DEFAULT 0;
CREATE INDEX validation_runs_source_time ON dq.validation_runs (source_id, run_at);
CREATE INDEX validation_runs_batch ON dq.validation_runs (batch_id);

ALTER TABLE dq.expectation_results
    ADD COLUMN suite_name         text,
    -- row: each failing row is quarantined; batch: the window fails as a whole
    ADD COLUMN level              text NOT NULL DEFAULT 'row' CHECK (level IN ('row', 'batch')),
    -- error fails (quarantines rows, or fails the window); warning is recorded only
    ADD COLUMN severity           text NOT NULL DEFAULT 'error'
        CHECK (severity IN ('error', 'warning')),
    ADD COLUMN evaluated          integer,
    ADD COLUMN unexpected_percent double precision,
    ADD COLUMN observed_value     jsonb;
CREATE INDEX expectation_results_validation ON dq.expectation_results (validation_id);

-- One row per extract attempt of a window (or of what is new after a bookmark): what was
-- asked, what the source said, what loaded, and whether the numbers reconcile.
CREATE TABLE dq.completeness (
    batch_id     uuid PRIMARY KEY,
    source_id    text NOT NULL,
    dag_id       text,
    run_id       text,
    window_start timestamptz,
    window_end   timestamptz,
    -- the exact filter, query or file list and its parameters
    asked        jsonb NOT NULL DEFAULT '{}',
    -- pages and the end of paging, the source's own count, line counts of files
    source_said  jsonb NOT NULL DEFAULT '{}',
    -- what the source says the window holds, where it can say (count(*) of a database)
    source_count bigint,
    extracted    bigint,
    loaded       bigint,
    quarantined  bigint,
    excluded     bigint,
    status       text NOT NULL
        CHECK (status IN ('complete', 'not_reconciled', 'failed_checks', 'extract_failed')),
    problems     text[] NOT NULL DEFAULT '{}',
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX completeness_source_window ON dq.completeness (source_id, window_start);

-- A quarantined record that loads after a fix leaves quarantine but keeps its row: when, by
-- which batch, and why it was held; every re-processing attempt is in the history.
ALTER TABLE dq.quarantine
    ADD COLUMN released_at       timestamptz,
    ADD COLUMN released_batch_id uuid,
    ADD COLUMN reprocessed       integer NOT NULL DEFAULT 0;
CREATE TABLE dq.quarantine_history (
    quarantine_id bigint NOT NULL REFERENCES dq.quarantine (quarantine_id),
    at            timestamptz NOT NULL DEFAULT now(),
    -- released: it loaded; kept: it failed again (with these reasons)
    outcome       text NOT NULL CHECK (outcome IN ('released', 'kept')),
    reasons       text[] NOT NULL DEFAULT '{}',
    batch_id      uuid,
    note          text
);
CREATE INDEX quarantine_history_record ON dq.quarantine_history (quarantine_id, at);

-- Completeness evidence (quality/completeness.py): the window's lookback, so the daily summary
-- counts a window on the day of its data interval ([window_start + lookback, window_end)).
ALTER TABLE dq.completeness
    ADD COLUMN lookback interval NOT NULL DEFAULT '0';

-- Re-processing quarantined records (quality/reprocess.py): which open quarantine row each
-- record of a re-processing landing batch is, so that the outcome of that batch's load
-- (released, kept) is written back to the row, also by a later run if the first one stopped
-- between the load's commit and the write-back.
CREATE TABLE dq.reprocess_records (
    batch_id      uuid NOT NULL,
    quarantine_id bigint NOT NULL REFERENCES dq.quarantine (quarantine_id),
    page_no       integer NOT NULL,
    record_no     integer NOT NULL,
    PRIMARY KEY (batch_id, quarantine_id)
);
CREATE INDEX reprocess_records_quarantine ON dq.reprocess_records (quarantine_id);
