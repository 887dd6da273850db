-- Per-load staging tables; they vanish with the transaction.
CREATE TEMP TABLE staging_events (
    source_id            text NOT NULL,
    event_id             text NOT NULL,
    occurred_at          timestamptz NOT NULL,
    category             text NOT NULL,
    action               text NOT NULL,
    outcome              text NOT NULL,
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
    properties           jsonb NOT NULL,
    content_hash         text NOT NULL,
    actor_alias_id       text,
    actor_alias_id_kind  text,
    actor_alias_name     text,
    candidate_user_id    uuid NOT NULL,
    config_id            uuid,
    external_user_id     uuid
) ON COMMIT DROP;
CREATE TEMP TABLE staging_quarantine (
    record_key   text,
    payload_hash text NOT NULL,
    payload      jsonb NOT NULL,
    reasons      text[] NOT NULL
) ON COMMIT DROP;
