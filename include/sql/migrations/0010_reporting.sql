-- Reporting for auditors and access reviews: who exists (population snapshots with history),
-- which source covers which day (coverage), the reporting tables the access_reporting DAG
-- materialises for the days a load touched, the evidence packs frozen from them, and the
-- read-only role auditors log in with.

-- Populations: every account that exists, not only those that appear in logs. One population
-- is one directory (an Entra tenant's /users) or one database server's logins; its sources are
-- the sources whose events are accesses by these accounts.
CREATE TABLE audit.populations (
    population_id text PRIMARY KEY,
    kind          text NOT NULL,
    source_ids    text[] NOT NULL DEFAULT '{}',
    conn_id       text,
    registered_at timestamptz NOT NULL DEFAULT now()
);

-- One row per snapshot attempt (a failed one too: its error says why).
CREATE TABLE audit.population_snapshots (
    snapshot_id   uuid PRIMARY KEY,
    population_id text NOT NULL REFERENCES audit.populations (population_id),
    dag_id        text,
    run_id        text,
    taken_at      timestamptz NOT NULL,
    status        text NOT NULL CHECK (status IN ('complete', 'failed')),
    accounts      integer,
    added         integer,
    changed       integer,
    removed       integer,
    -- the request (Graph URL and $select, or the SQL) and what the source said (pages, whether
    -- signInActivity was available under the tenant's licence)
    asked         jsonb NOT NULL DEFAULT '{}',
    source_said   jsonb NOT NULL DEFAULT '{}',
    error         text
);
CREATE INDEX population_snapshots_time ON audit.population_snapshots (population_id, taken_at);

-- Account history, one row per version (valid_from, valid_to): a snapshot that finds an account
-- changed closes its current version and opens a new one; an account missing from a complete
-- snapshot gets a version with deleted = true. Sign-in activity fields are refreshed in place on
-- the current version (they move daily; the events are their history).
CREATE TABLE audit.population_accounts (
    population_id     text NOT NULL REFERENCES audit.populations (population_id),
    account_id        text NOT NULL,
    valid_from        timestamptz NOT NULL,
    valid_to          timestamptz,
    first_snapshot_id uuid NOT NULL,
    last_snapshot_id  uuid NOT NULL,
    deleted           boolean NOT NULL DEFAULT false,
    principal_name    text,
    mail              text,
    display_name      text,
    enabled           boolean,
    -- member / guest (directory), login / role (databases)
    user_type         text,
    account_created_at timestamptz,
    last_sign_in_at                 timestamptz,
    last_non_interactive_sign_in_at timestamptz,
    last_successful_sign_in_at      timestamptz,
    -- normalised identifiers (lower(btrim())) that name this account's person in the events:
    -- object id, UPN, mail; a database login through its source's identity rule
    aliases           text[] NOT NULL DEFAULT '{}',
    properties        jsonb NOT NULL DEFAULT '{}',
    content_hash      text NOT NULL,
    PRIMARY KEY (population_id, account_id, valid_from),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE UNIQUE INDEX population_accounts_current
    ON audit.population_accounts (population_id, account_id) WHERE valid_to IS NULL;
CREATE INDEX population_accounts_aliases ON audit.population_accounts USING gin (aliases);

-- What the reporting build reads per day: events by time (BRIN: events arrive roughly in
-- time order, so a small index finds a day's blocks), and the loads and attempts whose windows
-- overlap a day.
CREATE INDEX access_events_time_brin ON audit.access_events USING brin (occurred_at);
CREATE INDEX batches_window_range ON audit.batches
    USING gist (tstzrange(window_start, window_end)) WHERE window_start IS NOT NULL;
CREATE INDEX batches_bookmark_time ON audit.batches (source_id, extract_started_at)
    WHERE window_start IS NULL;
CREATE INDEX completeness_window_range ON dq.completeness
    USING gist (tstzrange(window_start, window_end)) WHERE window_start IS NOT NULL;

-- One row per reporting build: what was asked (days, as-of day) and what it wrote.
CREATE TABLE reporting.builds (
    build_id    uuid PRIMARY KEY,
    trigger     text NOT NULL,
    dag_id      text,
    run_id      text,
    days        date[] NOT NULL,
    as_of       date NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    rows_written jsonb NOT NULL DEFAULT '{}'
);

-- Per source and UTC day: can the reports speak for this day? complete: the source's loaded,
-- reconciled windows cover the whole day; otherwise why not.
CREATE TABLE reporting.source_days (
    day        date NOT NULL,
    source_id  text NOT NULL,
    status     text NOT NULL CHECK (status IN (
        'complete', 'not_extracted', 'partially_extracted', 'extract_failed', 'failed_checks',
        'not_reconciled', 'beyond_source_retention', 'removed_by_retention')),
    evaluable  boolean NOT NULL,
    -- the share of the day that complete windows cover
    covered_share numeric NOT NULL,
    reason     text,
    build_id   uuid NOT NULL,
    built_at   timestamptz NOT NULL,
    PRIMARY KEY (day, source_id)
);

-- The event categories each source has produced, and since when: which sources a report
-- (sign-ins, directory changes) needs to be complete on a day before it may speak for it.
CREATE TABLE reporting.source_categories (
    source_id text NOT NULL,
    category  text NOT NULL,
    first_day date NOT NULL,
    last_day  date NOT NULL,
    PRIMARY KEY (source_id, category)
);

-- Per day, source, resource and person. A (day, source) the source does not cover has one
-- marker row without resource and person whose counts are NULL and whose status says why: a
-- report never reads as "no activity" for such a day.
CREATE TABLE reporting.daily_access (
    day              date NOT NULL,
    source_id        text NOT NULL,
    config_id        uuid,
    resource_type    text,
    resource_name    text,
    external_user_id uuid,
    person           text,
    events           bigint,
    successes        bigint,
    failures         bigint,
    unknown_outcome  bigint,
    with_mfa         bigint,
    without_mfa      bigint,
    mfa_unknown      bigint,
    distinct_ips     integer,
    distinct_countries integer,
    first_at         timestamptz,
    last_at          timestamptz,
    last_success_at  timestamptz,
    last_ip          text,
    last_country     text,
    categories       text[],
    evaluable        boolean NOT NULL,
    status           text NOT NULL,
    build_id         uuid NOT NULL,
    built_at         timestamptz NOT NULL
);
CREATE UNIQUE INDEX daily_access_key ON reporting.daily_access (
    day, source_id, coalesce(config_id, '00000000-0000-0000-0000-000000000000'),
    coalesce(external_user_id, '00000000-0000-0000-0000-000000000000'));
-- a pair's first or last day is one index seek (access_review), a person's last success too
CREATE INDEX daily_access_person ON reporting.daily_access (
    external_user_id, coalesce(config_id, '00000000-0000-0000-0000-000000000000'), day);
CREATE INDEX daily_access_last_success ON reporting.daily_access (
    external_user_id, last_success_at DESC) WHERE last_success_at IS NOT NULL;

-- Per day and resource (scope resource) and per day over every resource (scope overall):
-- people and successful sign-ins with MFA, without, unknown.
CREATE TABLE reporting.mfa_coverage (
    day                  date NOT NULL,
    scope                text NOT NULL CHECK (scope IN ('resource', 'overall')),
    config_id            uuid,
    resource_name        text,
    people               integer,
    people_with_mfa      integer,
    people_without_mfa   integer,
    people_mfa_unknown   integer,
    sign_ins             bigint,
    sign_ins_with_mfa    bigint,
    sign_ins_without_mfa bigint,
    sign_ins_mfa_unknown bigint,
    -- with / (with + without); NULL when no sign-in says either way
    mfa_share            numeric,
    sources              text[] NOT NULL DEFAULT '{}',
    not_evaluable_sources text[] NOT NULL DEFAULT '{}',
    evaluable            boolean NOT NULL,
    status               text NOT NULL,
    build_id             uuid NOT NULL,
    built_at             timestamptz NOT NULL
);
CREATE UNIQUE INDEX mfa_coverage_key ON reporting.mfa_coverage (
    day, scope, coalesce(config_id, '00000000-0000-0000-0000-000000000000'));

-- Failed sign-ins per day, source, person, IP and reason (lockouts counted apart), with the
-- same marker rows as daily_access for days a source does not cover.
CREATE TABLE reporting.failed_signins (
    day              date NOT NULL,
    source_id        text NOT NULL,
    external_user_id uuid,
    person           text,
    principal        text,
    source_ip        text,
    country          text,
    error_code       text,
    failure_reason   text,
    failures         bigint,
    lockouts         bigint,
    first_at         timestamptz,
    last_at          timestamptz,
    evaluable        boolean NOT NULL,
    status           text NOT NULL,
    build_id         uuid NOT NULL,
    built_at         timestamptz NOT NULL
);
CREATE UNIQUE INDEX failed_signins_key ON reporting.failed_signins (
    day, source_id, coalesce(external_user_id, '00000000-0000-0000-0000-000000000000'),
    coalesce(source_ip, ''), coalesce(error_code, ''), coalesce(failure_reason, ''));

-- Bursts that look like password spraying (many principals failing from one IP) or brute
-- force (many failures on one principal) within the configured window; on the day they start.
CREATE TABLE reporting.failed_signin_bursts (
    day              date NOT NULL,
    pattern          text NOT NULL CHECK (pattern IN ('password_spraying', 'brute_force')),
    source_ip        text,
    external_user_id uuid,
    person           text,
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz NOT NULL,
    failures         bigint NOT NULL,
    principals       integer NOT NULL,
    lockouts         bigint NOT NULL,
    sources          text[] NOT NULL,
    thresholds       jsonb NOT NULL,
    build_id         uuid NOT NULL,
    built_at         timestamptz NOT NULL
);
CREATE INDEX failed_signin_bursts_day ON reporting.failed_signin_bursts (day);

-- Changes to privilege: directory roles, privileged group membership, application
-- credentials and consents, conditional-access policies, database grants and roles.
CREATE TABLE reporting.privileged_changes (
    day              date NOT NULL,
    occurred_at      timestamptz NOT NULL,
    source_id        text NOT NULL,
    event_id         text NOT NULL,
    change_type      text NOT NULL,
    action           text NOT NULL,
    outcome          text NOT NULL,
    actor_user_id    uuid,
    actor            text,
    actor_login      text,
    target_type      text,
    target_name      text,
    target_external_id text,
    -- the role or group the change is about, where the record names one
    privilege        text,
    old_value        jsonb,
    new_value        jsonb,
    statement        text,
    source_ip        text,
    build_id         uuid NOT NULL,
    built_at         timestamptz NOT NULL,
    PRIMARY KEY (source_id, event_id)
);
CREATE INDEX privileged_changes_day ON reporting.privileged_changes (day);

-- Per person and resource, as of a day: first and last access, active days in the last 30
-- and 90 days, MFA share, last IP and country, and what the person is (stub, guest, disabled,
-- deleted: NULL where no population knows the person).
CREATE TABLE reporting.access_review (
    external_user_id uuid NOT NULL,
    config_id        uuid,
    resource_type    text,
    resource_name    text,
    person           text,
    display_name     text,
    sources          text[] NOT NULL,
    first_access_at  timestamptz,
    last_access_at   timestamptz,
    last_success_at  timestamptz,
    active_days_30   integer NOT NULL,
    active_days_90   integer NOT NULL,
    events_90        bigint NOT NULL,
    mfa_share_90     numeric,
    mfa_unknown_90   bigint NOT NULL,
    last_ip          text,
    last_country     text,
    is_stub          boolean NOT NULL,
    is_guest         boolean,
    is_disabled      boolean,
    is_deleted       boolean,
    as_of            date NOT NULL,
    -- false when a source of the pair did not cover every day of the last 90
    evaluable        boolean NOT NULL,
    status           text NOT NULL,
    build_id         uuid NOT NULL,
    built_at         timestamptz NOT NULL
);
CREATE UNIQUE INDEX access_review_key ON reporting.access_review (
    external_user_id, coalesce(config_id, '00000000-0000-0000-0000-000000000000'));

-- Every current account of every population, as of a day: when it last succeeded (in the
-- warehouse's events, and per the directory's own signInActivity), and whether it is dormant
-- (no successful access for the configured days), never signed in, active, too new to say, or
-- not evaluable (its sources do not cover the whole dormancy period).
CREATE TABLE reporting.dormant_accounts (
    population_id    text NOT NULL,
    account_id       text NOT NULL,
    principal_name   text,
    display_name     text,
    external_user_id uuid,
    user_type        text,
    enabled          boolean,
    account_created_at timestamptz,
    sources          text[] NOT NULL,
    last_success_at  timestamptz,
    last_success_source text,
    directory_last_successful_sign_in_at timestamptz,
    directory_last_sign_in_at timestamptz,
    days_since_success integer,
    dormant_after_days integer NOT NULL,
    as_of            date NOT NULL,
    snapshot_taken_at timestamptz NOT NULL,
    status           text NOT NULL CHECK (status IN (
        'active', 'dormant', 'never_signed_in', 'new_account', 'not_evaluable')),
    reason           text,
    build_id         uuid NOT NULL,
    built_at         timestamptz NOT NULL,
    PRIMARY KEY (population_id, account_id)
);

-- Evidence packs: what was frozen for a review period, and the hash of its manifest.
CREATE TABLE reporting.evidence_packs (
    pack_id        uuid PRIMARY KEY,
    period_start   date NOT NULL,
    period_end     date NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text NOT NULL DEFAULT current_user,
    dag_id         text,
    run_id         text,
    location       text NOT NULL,
    manifest_sha256 text NOT NULL,
    chain_head     jsonb NOT NULL DEFAULT '{}',
    files          jsonb NOT NULL DEFAULT '{}'
);

-- The role auditors use: it reads auditor and reporting, writes nothing anywhere, reads nothing
-- else (README "For auditors"). People log in as roles that are members of it. auditor_read
-- (earlier migrations) becomes a member, so existing grants keep working.
--
-- Roles belong to the server, not to this database: each is created once and changed only
-- where it differs from what is wanted, so that once they exist a migrating login that is not a
-- superuser (and has no ADMIN OPTION on them) migrates further warehouses on the same server.
DO $$
DECLARE
    role_name text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'auditor_readonly') THEN
        CREATE ROLE auditor_readonly NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
            NOBYPASSRLS;
    END IF;
    -- a role of that name made by hand before loses anything that bypasses privileges
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'auditor_readonly'
               AND (rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls))
    THEN
        ALTER ROLE auditor_readonly NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_auth_members
                   WHERE roleid = 'auditor_readonly'::regrole AND member = 'auditor_read'::regrole)
    THEN
        GRANT auditor_readonly TO auditor_read;
    END IF;
    -- Sessions start read-only. Defence in depth only (a session may turn it off; privileges are
    -- what forbids writing), and a role's settings apply to the role that logs in, not to its
    -- members: each auditor login gets the same setting (README "For auditors").
    FOREACH role_name IN ARRAY ARRAY['auditor_readonly', 'auditor_read'] LOOP
        IF NOT EXISTS (SELECT FROM pg_db_role_setting
                       WHERE setrole = role_name::regrole AND setdatabase = 0
                         AND 'default_transaction_read_only=on' = ANY (setconfig)) THEN
            EXECUTE format('ALTER ROLE %I SET default_transaction_read_only = on', role_name);
        END IF;
    END LOOP;
END $$;

-- Reads: the auditor and reporting schemas, and nothing else. Not one privilege that writes (the
-- REVOKE is explicit, for objects someone granted more on by hand), no CREATE in any schema,
-- and no USAGE on landing, audit, dq or etl (so neither their tables, sequences nor functions).
GRANT USAGE ON SCHEMA auditor, reporting TO auditor_readonly;
GRANT SELECT ON ALL TABLES IN SCHEMA auditor, reporting TO auditor_readonly;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
    ON ALL TABLES IN SCHEMA auditor, reporting FROM auditor_readonly, auditor_read;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA auditor, reporting FROM auditor_readonly, auditor_read;
REVOKE CREATE ON SCHEMA auditor, reporting FROM PUBLIC, auditor_readonly, auditor_read;
REVOKE ALL ON SCHEMA landing, audit, dq, etl FROM PUBLIC, auditor_readonly, auditor_read;
-- Tables the loader adds to reporting later are readable too; nothing else is.
ALTER DEFAULT PRIVILEGES IN SCHEMA reporting GRANT SELECT ON TABLES TO auditor_readonly;
ALTER DEFAULT PRIVILEGES IN SCHEMA auditor GRANT SELECT ON TABLES TO auditor_readonly;

-- The database: every role of the server (PUBLIC) may by default create temporary tables in it.
-- Only the owner and the login that migrates may here; that login also loads, and the load's
-- staging tables are temporary. Auditors connect (granted to the role, so that revoking CONNECT
-- from PUBLIC keeps them working). CREATE DATABASE ... TEMPLATE does not copy database
-- privileges: a copy needs these three statements again (README "For auditors").
-- PostgreSQL 15 no longer lets PUBLIC create in schema public, but only in clusters made by
-- initdb 15 or later; an upgraded one still does. Nothing of the warehouse lives in public.
DO $$
BEGIN
    EXECUTE format('REVOKE CREATE, TEMPORARY ON DATABASE %I FROM PUBLIC, auditor_readonly',
                   current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', current_database(), current_user);
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO auditor_readonly', current_database());
    IF to_regnamespace('public') IS NOT NULL THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    END IF;
END $$;

-- Large objects: any role may create one (a row of pg_largeobject, owned by it) through these
-- functions unless PUBLIC loses them; nothing in the warehouse uses large objects. Only a
-- superuser can revoke them (they belong to the bootstrap superuser): a migrating login that is
-- not one is told what an administrator runs (README "For auditors"), and the migration goes on.
DO $$
BEGIN
    IF has_function_privilege('public', 'pg_catalog.lo_create(oid)', 'EXECUTE')
       OR has_function_privilege('public', 'pg_catalog.lo_creat(integer)', 'EXECUTE')
       OR has_function_privilege('public', 'pg_catalog.lo_from_bytea(oid, bytea)', 'EXECUTE')
    THEN
        IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            REVOKE EXECUTE ON FUNCTION pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer),
                pg_catalog.lo_from_bytea(oid, bytea) FROM PUBLIC;
        ELSE
            RAISE WARNING 'every role, auditor_readonly included, may still create large objects '
                'in database %: a superuser should run there: REVOKE EXECUTE ON FUNCTION '
                'lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea) FROM PUBLIC',
                current_database();
        END IF;
    END IF;
END $$;
