-- The accounts the source listed, for one snapshot; gone with its transaction.
CREATE TEMP TABLE staging_population_accounts (
    account_id         text NOT NULL,
    principal_name     text,
    mail               text,
    display_name       text,
    enabled            boolean,
    user_type          text,
    account_created_at timestamptz,
    last_sign_in_at                 timestamptz,
    last_non_interactive_sign_in_at timestamptz,
    last_successful_sign_in_at      timestamptz,
    aliases            text[] NOT NULL,
    properties         jsonb NOT NULL,
    content_hash       text NOT NULL,
    -- listing order, so that the last of two copies of an account wins
    staged_no          bigint GENERATED ALWAYS AS IDENTITY
) ON COMMIT DROP
