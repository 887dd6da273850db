-- Warehouse schemas, bookkeeping and the access-event contract (see README "Warehouse").
CREATE SCHEMA IF NOT EXISTS landing;
CREATE SCHEMA IF NOT EXISTS audit;
CREATE SCHEMA IF NOT EXISTS dq;
CREATE SCHEMA IF NOT EXISTS reporting;
CREATE SCHEMA IF NOT EXISTS auditor;
CREATE SCHEMA IF NOT EXISTS etl;

-- Landing: raw payloads exactly as the source sent them, per extract attempt.
CREATE TABLE landing.extract_batches (
    batch_id      uuid PRIMARY KEY,
    source_id     text NOT NULL,
    source_kind   text NOT NULL,
    dag_id        text,
    run_id        text,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    -- the run's data interval is [window_start + lookback, window_end)
    lookback      interval NOT NULL DEFAULT '0',
    status        text NOT NULL CHECK (status IN ('extracting', 'extracted', 'failed', 'loaded')),
    pages         integer NOT NULL DEFAULT 0,
    records       integer NOT NULL DEFAULT 0,
    request_stats jsonb NOT NULL DEFAULT '{}',
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    error         text,
    CHECK (window_start < window_end)
);
CREATE INDEX extract_batches_source_idx ON landing.extract_batches (source_id, window_start);

CREATE TABLE landing.records (
    batch_id   uuid NOT NULL REFERENCES landing.extract_batches (batch_id) ON DELETE CASCADE,
    page_no    integer NOT NULL,
    record_no  integer NOT NULL,
    payload    jsonb NOT NULL,
    landed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, page_no, record_no)
);

-- Audit: who is who, what is what, and one row per access event.
CREATE TABLE audit.sources (
    source_id    text PRIMARY KEY,
    source_uuid  uuid NOT NULL UNIQUE,
    kind         text NOT NULL,
    tenant_id    text,
    conn_id      text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit.external_users (
    id              uuid PRIMARY KEY,
    actor_type      text NOT NULL,
    display_name    text,
    principal_name  text,
    -- true when the person was created from an event that matched no known alias
    is_stub         boolean NOT NULL DEFAULT true,
    first_source_id text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Every normalised identifier (lower(btrim())) that names a person: object id, UPN, mail, login.
CREATE TABLE audit.external_user_aliases (
    alias            text PRIMARY KEY CHECK (alias = lower(btrim(alias))),
    alias_kind       text NOT NULL,
    external_user_id uuid NOT NULL REFERENCES audit.external_users (id),
    source_id        text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX external_user_aliases_user_idx ON audit.external_user_aliases (external_user_id);

-- Editable by people: an alias listed here wins over anything resolution discovered.
CREATE TABLE audit.identity_mappings (
    alias            text PRIMARY KEY CHECK (alias = lower(btrim(alias))),
    external_user_id uuid NOT NULL REFERENCES audit.external_users (id),
    note             text,
    created_by       text NOT NULL DEFAULT current_user,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit.config_items (
    id           uuid PRIMARY KEY,
    type         text NOT NULL,
    external_id  text NOT NULL,
    name         text,
    first_source_id text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (type, external_id)
);

CREATE TABLE audit.access_events (
    source_id            text NOT NULL,
    event_id             text NOT NULL,
    occurred_at          timestamptz NOT NULL,
    category             text NOT NULL,
    action               text NOT NULL,
    outcome              text NOT NULL CHECK (outcome IN ('success', 'failure', 'unknown')),
    actor_external_id    text,
    actor_name           text,
    actor_principal_name text,
    actor_type           text NOT NULL,
    target_external_id   text,
    target_name          text,
    target_type          text,
    mfa                  boolean,
    source_ip            text,
    country              text,
    city                 text,
    user_agent           text,
    client_app           text,
    auth_method          text,
    error_code           text,
    failure_reason       text,
    properties           jsonb NOT NULL DEFAULT '{}',
    external_user_id     uuid NOT NULL,
    config_id            uuid,
    batch_id             uuid NOT NULL,
    ingested_at          timestamptz NOT NULL,
    content_hash         text NOT NULL,
    -- Postgres requires the partition key in a partitioned table's primary key.
    PRIMARY KEY (source_id, event_id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX access_events_access_idx ON audit.access_events (config_id, external_user_id, source_id);
CREATE INDEX access_events_batch_idx ON audit.access_events (batch_id);

-- Monthly partitions are created on demand for the months a batch touches.
CREATE FUNCTION audit.ensure_access_event_partitions(p_from timestamptz, p_to timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    month_start date := date_trunc('month', p_from AT TIME ZONE 'UTC')::date;
    created integer := 0;
    partition_name text;
BEGIN
    WHILE month_start <= (p_to AT TIME ZONE 'UTC')::date LOOP
        partition_name := format('access_events_y%sm%s', to_char(month_start, 'YYYY'),
                                 to_char(month_start, 'MM'));
        IF to_regclass('audit.' || partition_name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE audit.%I PARTITION OF audit.access_events '
                'FOR VALUES FROM (%L) TO (%L)',
                partition_name,
                (month_start::timestamp AT TIME ZONE 'UTC'),
                ((month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            created := created + 1;
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;

-- Mission Control compatible: last access per (config item, person, source).
CREATE TABLE audit.access_logs (
    config_id        uuid NOT NULL REFERENCES audit.config_items (id),
    external_user_id uuid NOT NULL REFERENCES audit.external_users (id),
    scraper_id       uuid NOT NULL,
    created_at       timestamptz NOT NULL,
    count            bigint NOT NULL,
    mfa              boolean,
    properties       jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (config_id, external_user_id, scraper_id)
);

-- What each successful load put into audit, chained so a removed or edited batch row shows.
CREATE TABLE audit.batches (
    batch_id         uuid PRIMARY KEY,
    sequence_no      bigserial UNIQUE,
    source_id        text NOT NULL,
    dag_id           text,
    run_id           text,
    window_start     timestamptz NOT NULL,
    window_end       timestamptz NOT NULL,
    lookback         interval NOT NULL,
    pages            integer NOT NULL,
    extracted        integer NOT NULL,
    loaded           integer NOT NULL,
    quarantined      integer NOT NULL,
    -- records left out on purpose by the source's configured exclusions (details says which)
    excluded         integer NOT NULL DEFAULT 0,
    duplicates       integer NOT NULL,
    inserted         integer NOT NULL,
    updated          integer NOT NULL,
    unchanged        integer NOT NULL,
    new_users        integer NOT NULL,
    new_config_items integer NOT NULL,
    details          jsonb NOT NULL DEFAULT '{}',
    extract_started_at timestamptz NOT NULL,
    loaded_at        timestamptz NOT NULL,
    duration_s       numeric NOT NULL,
    content_digest   text NOT NULL,
    prev_hash        text,
    batch_hash       text NOT NULL,
    CHECK (extracted = loaded + quarantined + excluded)
);

-- Data quality: one row per validation, one per expectation, and what was held back.
CREATE TABLE dq.validation_runs (
    validation_id uuid PRIMARY KEY,
    batch_id      uuid NOT NULL,
    source_id     text NOT NULL,
    suite_name    text NOT NULL,
    success       boolean NOT NULL,
    evaluated     integer NOT NULL,
    failed_rows   integer NOT NULL,
    run_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dq.expectation_results (
    validation_id    uuid NOT NULL REFERENCES dq.validation_runs (validation_id),
    expectation      text NOT NULL,
    column_name      text,
    success          boolean NOT NULL,
    unexpected_count integer,
    details          jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE dq.quarantine (
    quarantine_id  bigserial PRIMARY KEY,
    source_id      text NOT NULL,
    batch_id       uuid NOT NULL,
    record_key     text,
    payload_hash   text NOT NULL,
    payload        jsonb NOT NULL,
    reasons        text[] NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    -- the same bad record seen again by a rerun is not stored twice
    UNIQUE (source_id, payload_hash)
);
