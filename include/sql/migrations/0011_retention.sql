-- Retention (README "Retention"): legal holds, one record per purge, the state the
-- reporting.retention_status view reads, and what access_logs keeps of the events retention
-- removed (the view, the hold guard and the partition drop function are in
-- views/070_retention_status.sql).

-- Legal holds set with SQL (holds can also be listed in include/config/retention.yaml; both
-- count): while a hold is in force (released_at NULL or later than the run's time), no row of
-- its period and sources is purged from any table. Holds are never deleted, only released
-- (the guard in views/070_retention_status.sql).
CREATE TABLE etl.legal_holds (
    hold_id      text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    -- [period_start, period_end): the time of the events (or of the day a report row is for)
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    -- source ids; empty: every source
    sources      text[] NOT NULL DEFAULT '{}',
    reason       text NOT NULL CHECK (btrim(reason) <> ''),
    set_by       text NOT NULL DEFAULT current_user CHECK (btrim(set_by) <> ''),
    set_at       timestamptz NOT NULL DEFAULT now(),
    released_at  timestamptz,
    released_by  text,
    CHECK (period_start < period_end),
    CHECK (released_at IS NULL OR released_by IS NOT NULL)
);

-- One row per purge (or per decision to keep what a policy would have removed), written in
-- the purge's own transaction; a dry run writes the same rows with dry_run = true. The id is
-- what the per-source manifest chain records for a dropped partition (integrity.manifests).
CREATE TABLE etl.retention_runs (
    retention_run_id uuid PRIMARY KEY,
    -- one call of enforce_retention (one DAG run): every purge it made shares it
    enforcement_id   uuid NOT NULL,
    dag_id           text,
    run_id           text,
    family           text NOT NULL,
    table_name       text NOT NULL,
    -- a partition of audit.access_events, for drop_partition / keep_partition
    partition_name   text,
    -- NULL: every source without a policy of its own (details.sources names those touched);
    -- for a partition, all of its sources (details.sources)
    source_id        text,
    action           text NOT NULL
        CHECK (action IN ('drop_partition', 'keep_partition', 'delete', 'keep')),
    -- the time range the purge speaks for: [oldest row removed, cutoff) for deletes, the
    -- partition's bounds for partitions
    range_start      timestamptz,
    range_end        timestamptz,
    -- rows removed (would be removed, in a dry run)
    rows             bigint NOT NULL,
    -- rows older than the policy that stay, and why (holds, a source's longer policy, a
    -- landing batch never loaded)
    kept_rows        bigint NOT NULL DEFAULT 0,
    kept_because     jsonb NOT NULL DEFAULT '[]',
    -- the policy applied: family, keep, cutoff, per-source policies, holds in force
    policy           jsonb NOT NULL,
    -- per source: rows, oldest and newest time removed; landing: the batch ids removed
    details          jsonb NOT NULL DEFAULT '{}',
    dry_run          boolean NOT NULL,
    -- the moment the policy was computed for (the run's `now`)
    as_of            timestamptz NOT NULL,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX retention_runs_table ON etl.retention_runs (table_name, finished_at);
CREATE INDEX retention_runs_enforcement ON etl.retention_runs (enforcement_id);
-- the reporting build asks, per day, whether retention removed a source's events
CREATE INDEX retention_runs_removed_events ON etl.retention_runs
    USING gist (tstzrange(range_start, range_end))
    WHERE action = 'drop_partition' AND NOT dry_run;

-- Per table and source, what the latest enforcing run found: the policy, the oldest row kept,
-- from when the data is complete, rows kept past the policy and why, the config's holds in
-- force, the next purge date. Rewritten by every run that is not a dry run (in reporting, the
-- loading role's working schema); reporting.retention_status adds the holds set in
-- etl.legal_holds that are in force now and the latest purge.
CREATE TABLE reporting.retention_state (
    family           text NOT NULL,
    table_name       text NOT NULL,
    -- '*': a table whose rows belong to no single source (its policy is the family's longest)
    source_id        text NOT NULL,
    policy           text NOT NULL,
    policy_origin    text NOT NULL CHECK (policy_origin IN ('default', 'source', 'longest')),
    cutoff           timestamptz,
    rows_kept        bigint,
    oldest_kept      timestamptz,
    complete_from    timestamptz,
    kept_past_policy bigint NOT NULL DEFAULT 0,
    kept_because     text[] NOT NULL DEFAULT '{}',
    -- holds of include/config/retention.yaml in force at the run that cover this source
    config_holds     text[] NOT NULL DEFAULT '{}',
    next_purge       date,
    note             text,
    as_of            timestamptz NOT NULL,
    refreshed_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (table_name, source_id)
);

-- audit.access_logs outlives audit.access_events (7 years against 13 months): the successful
-- events a dropped partition held are folded in here per (config item, person, source) first,
-- so a later recompute of a pair (a changed event) adds them instead of losing them.
CREATE TABLE audit.access_logs_retired (
    config_id        uuid NOT NULL,
    external_user_id uuid NOT NULL,
    source_id        text NOT NULL,
    events           bigint NOT NULL,
    last_at          timestamptz NOT NULL,
    last_event_id    text NOT NULL,
    mfa              boolean,
    last_source_ip   text,
    PRIMARY KEY (config_id, external_user_id, source_id)
);
