-- Tamper evidence (README "Tamper evidence"): a manifest chain per source, the verifier's runs,
-- and the role loads can run as, which cannot rewrite that history.
--
-- The fingerprint and hash functions below live here, not in the repeatable files under
-- include/sql/views/: the chains store their results, so changing either would make every
-- stored entry fail to verify. They are part of the stored format, as frozen as the tables.

-- One event as stored: SHA-256 over its natural key, time, content hash and resolution. The
-- content hash (SHA-256 of every column the source's record gave, properties included, computed
-- by the load: contract.content_hash) stands for the content; the verifier recomputes it from
-- the columns themselves, so an edit that leaves content_hash alone shows too. The fields go
-- through a row constructor's text form, which quotes and escapes each one and so cannot be
-- confused with another split of the same characters; the time as epoch seconds, which no
-- session setting changes. Cheap on purpose: a load fingerprints every row it writes.
CREATE FUNCTION audit.event_fingerprint(
    source_id text, event_id text, occurred_at timestamptz, content_hash text,
    external_user_id uuid, config_id uuid)
RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sha256(convert_to(
        ROW(source_id, event_id, extract(epoch FROM occurred_at), content_hash,
            external_user_id, config_id)::text,
        'UTF8'))
$$;

-- The same for a stored row.
CREATE FUNCTION audit.event_fingerprint(e audit.access_events)
RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT audit.event_fingerprint(e.source_id, e.event_id, e.occurred_at, e.content_hash,
                                   e.external_user_id, e.config_id)
$$;

-- Lane n (0..3) of a fingerprint as a signed 64-bit integer. The sum of each lane over a set
-- of rows is that set's multiset digest: sums can be subtracted, so the rows a later batch
-- took over or a purge removed are taken out of a batch's digest without reading it again.
CREATE FUNCTION audit.fingerprint_lane(fingerprint bytea, lane integer)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ('x' || encode(substring(fingerprint FROM lane * 8 + 1 FOR 8), 'hex'))::bit(64)::bigint
$$;

-- The manifest chain: one entry per committed load (kind load, or reprocess for a quarantine
-- re-processing batch), per retention purge, and per batch loaded before this migration
-- (baseline, below). entry_no counts from 1 per source; prev_hash is the source's previous
-- entry's entry_hash, so sources chain on their own and load in parallel.
CREATE TABLE audit.manifests (
    source_id         text NOT NULL,
    entry_no          bigint NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('baseline', 'load', 'reprocess', 'purge')),
    -- the batch whose rows the entry wrote (NULL for a purge)
    batch_id          uuid UNIQUE,
    retention_run_id  uuid,
    -- a load's window (or bookmark range); a purge's range of occurred_at, end excluded
    window_start      timestamptz,
    window_end        timestamptz,
    bookmark_from     jsonb,
    bookmark_to       jsonb,
    -- the rows the entry wrote, all of them with batch_id = this batch: how many, SHA-256
    -- over their fingerprints in (event_id COLLATE "C", occurred_at) order, and the lane sums
    row_count         bigint NOT NULL,
    content_sha256    text NOT NULL,
    lanes             numeric[] NOT NULL,
    -- the rows it took away from earlier batches (a load: stored rows its changed events
    -- replaced; a purge: the rows removed), in total and per batch:
    -- [{"batch_id": ..., "rows": n, "lanes": [l0, l1, l2, l3]}, ...] ordered by batch_id
    removed_row_count bigint NOT NULL,
    removed_sha256    text NOT NULL,
    removed           jsonb NOT NULL,
    recorded_at       timestamptz NOT NULL,
    prev_hash         text,
    entry_hash        text NOT NULL UNIQUE,
    PRIMARY KEY (source_id, entry_no),
    CHECK ((kind = 'purge') = (batch_id IS NULL)),
    CHECK (kind <> 'purge' OR retention_run_id IS NOT NULL),
    CHECK (cardinality(lanes) = 4)
);
COMMENT ON TABLE audit.manifests IS
    'Per-source hash chain of loads, re-processings and purges (README "Tamper evidence")';

-- SHA-256 over every field of an entry but its own hash; what entry_hash must equal.
CREATE FUNCTION audit.manifest_entry_hash(m audit.manifests)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(
        ROW(m.source_id, m.entry_no, m.kind, m.batch_id, m.retention_run_id,
            extract(epoch FROM m.window_start), extract(epoch FROM m.window_end),
            m.bookmark_from, m.bookmark_to, m.row_count, m.content_sha256, m.lanes,
            m.removed_row_count, m.removed_sha256, m.removed,
            extract(epoch FROM m.recorded_at), m.prev_hash)::text,
        'UTF8')), 'hex')
$$;

-- Every insert is chained here, whoever writes it: an entry without a hash gets the next
-- number, the previous hash, the time and its hash; one that brings them (a data-only restore
-- in order) must chain exactly. Writers hold the source's advisory lock (load/lock_source.sql);
-- the primary key refuses a second entry with the same number all the same.
CREATE FUNCTION audit.chain_manifest_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    previous record;
BEGIN
    SELECT entry_no, entry_hash INTO previous
    FROM audit.manifests WHERE source_id = NEW.source_id ORDER BY entry_no DESC LIMIT 1;
    IF NEW.entry_hash IS NULL THEN
        NEW.entry_no := coalesce(previous.entry_no, 0) + 1;
        NEW.prev_hash := previous.entry_hash;
        NEW.recorded_at := now();
        NEW.entry_hash := audit.manifest_entry_hash(NEW);
    ELSIF NEW.entry_no IS DISTINCT FROM coalesce(previous.entry_no, 0) + 1
          OR NEW.prev_hash IS DISTINCT FROM previous.entry_hash
          OR NEW.entry_hash IS DISTINCT FROM audit.manifest_entry_hash(NEW) THEN
        RAISE EXCEPTION 'manifest entry % of % does not chain onto entry % (%)',
            NEW.entry_no, NEW.source_id, previous.entry_no, previous.entry_hash;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER manifests_chain BEFORE INSERT ON audit.manifests
    FOR EACH ROW EXECUTE FUNCTION audit.chain_manifest_entry();

-- Append-only for everyone, the owner included: rewriting history then takes a deliberate
-- ALTER TABLE ... DISABLE TRIGGER (which the owner can do; the verifier still sees the result).
CREATE FUNCTION audit.refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only: % refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER manifests_append_only BEFORE UPDATE OR DELETE ON audit.manifests
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_history_change();
CREATE TRIGGER manifests_no_truncate BEFORE TRUNCATE ON audit.manifests
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_history_change();

-- Every run of the verifier (CLI or warehouse_verify), written when it finishes.
CREATE TABLE etl.verifier_runs (
    verifier_run_id uuid PRIMARY KEY,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    -- the one source asked for; NULL: every source
    source_id       text,
    dag_id          text,
    run_id          text,
    -- ok: every chain and every batch's rows verified; mismatch: findings; error: it failed
    status          text NOT NULL CHECK (status IN ('ok', 'mismatch', 'error')),
    sources_checked integer NOT NULL,
    entries_checked bigint NOT NULL,
    rows_checked    bigint NOT NULL,
    -- each finding: source, kind, entry, batch, window, expected and found rows, detail
    findings        jsonb NOT NULL,
    -- per source the last entry (entry_no, entry_hash): what to publish outside the warehouse
    chain_heads     jsonb NOT NULL,
    error           text,
    checked_by      text NOT NULL DEFAULT current_user
);
CREATE INDEX verifier_runs_finished ON etl.verifier_runs (finished_at);

-- Baseline: every batch loaded before this migration, with the rows it holds now, one entry
-- each in the global chain's order, so that the verifier starts from the warehouse as it
-- stands (it cannot say what happened to those rows before today).
INSERT INTO audit.manifests (
    source_id, kind, batch_id, window_start, window_end, bookmark_from, bookmark_to,
    row_count, content_sha256, lanes, removed_row_count, removed_sha256, removed)
WITH known AS (
    SELECT source_id, batch_id, sequence_no, window_start, window_end, bookmark_from,
           bookmark_to
    FROM audit.batches
    UNION ALL
    SELECT DISTINCT e.source_id, e.batch_id, NULL::bigint, NULL::timestamptz,
           NULL::timestamptz, NULL::jsonb, NULL::jsonb
    FROM audit.access_events e
    WHERE NOT EXISTS (SELECT FROM audit.batches b WHERE b.batch_id = e.batch_id)
), fingerprints AS MATERIALIZED (
    SELECT e.source_id, e.batch_id, e.event_id, e.occurred_at,
           audit.event_fingerprint(e) AS f
    FROM audit.access_events e
), stored AS (
    SELECT source_id, batch_id, count(*) AS row_count,
           encode(sha256(string_agg(f, ''::bytea
                                    ORDER BY event_id COLLATE "C", occurred_at)), 'hex')
               AS content_sha256,
           ARRAY[sum(audit.fingerprint_lane(f, 0)), sum(audit.fingerprint_lane(f, 1)),
                 sum(audit.fingerprint_lane(f, 2)), sum(audit.fingerprint_lane(f, 3))]
               AS lanes
    FROM fingerprints
    GROUP BY source_id, batch_id
)
SELECT k.source_id, 'baseline', k.batch_id, k.window_start, k.window_end, k.bookmark_from,
       k.bookmark_to, coalesce(s.row_count, 0),
       coalesce(s.content_sha256, encode(sha256(''::bytea), 'hex')),
       coalesce(s.lanes, ARRAY[0, 0, 0, 0]::numeric[]),
       0, encode(sha256(''::bytea), 'hex'), '[]'::jsonb
FROM known k
LEFT JOIN stored s ON s.source_id = k.source_id AND s.batch_id = k.batch_id
ORDER BY k.source_id, k.sequence_no NULLS LAST, k.batch_id;

-- The loading role: what extracts, loads, re-processing, reporting, snapshots, retention and
-- the verifier write, and no more. Its members (the Airflow workers' login, README "Tamper
-- evidence") insert and update working data, but history only grows: the manifest chain, the
-- global batch chain, retention and verifier runs take INSERT and SELECT, never UPDATE,
-- DELETE or TRUNCATE. No DDL: monthly partitions are created by a function that runs as the
-- owner (include/sql/views/075_tamper_evidence.sql). Migrations stay the owner's.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'warehouse_loader') THEN
        CREATE ROLE warehouse_loader NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
            NOBYPASSRLS;
    END IF;
    -- a role of that name made by hand before loses anything that bypasses privileges
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'warehouse_loader'
               AND (rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls))
    THEN
        ALTER ROLE warehouse_loader NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
            NOBYPASSRLS;
    END IF;
    -- 0010 took TEMPORARY from PUBLIC; the load's staging tables are temporary
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO warehouse_loader',
                   current_database());
END $$;

GRANT USAGE ON SCHEMA landing, audit, dq, reporting, etl, auditor TO warehouse_loader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA landing, audit, dq, reporting
    TO warehouse_loader;
GRANT SELECT ON ALL TABLES IN SCHEMA etl, auditor TO warehouse_loader;
GRANT INSERT ON etl.verifier_runs TO warehouse_loader;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA landing, audit, dq, reporting, etl TO warehouse_loader;
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
    ON audit.manifests, audit.batches, etl.verifier_runs FROM warehouse_loader;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
    ON etl.schema_migrations, etl.repeatable_scripts FROM warehouse_loader;
-- Retention history (migration 0011), where it exists: the same, append-only.
DO $$
BEGIN
    IF to_regclass('etl.retention_runs') IS NOT NULL THEN
        GRANT SELECT, INSERT ON etl.retention_runs TO warehouse_loader;
        REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON etl.retention_runs
            FROM warehouse_loader;
    END IF;
END $$;
-- Tables later migrations add (created by the owner, who runs them): working data in the
-- working schemas; in etl, bookkeeping, append-only. A later history table outside etl
-- revokes UPDATE, DELETE from warehouse_loader in its own migration.
ALTER DEFAULT PRIVILEGES IN SCHEMA landing, audit, dq, reporting
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO warehouse_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA etl GRANT SELECT, INSERT ON TABLES TO warehouse_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA auditor GRANT SELECT ON TABLES TO warehouse_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA landing, audit, dq, reporting, etl
    GRANT USAGE ON SEQUENCES TO warehouse_loader;

-- Functions: PUBLIC executes none of the warehouse's (include/sql/views/060_...); the loader
-- runs these (the trigger functions need no grant to fire).
REVOKE EXECUTE ON FUNCTION
    audit.event_fingerprint(text, text, timestamptz, text, uuid, uuid),
    audit.event_fingerprint(audit.access_events), audit.fingerprint_lane(bytea, integer),
    audit.manifest_entry_hash(audit.manifests), audit.chain_manifest_entry(),
    audit.refuse_history_change()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    audit.event_fingerprint(text, text, timestamptz, text, uuid, uuid),
    audit.event_fingerprint(audit.access_events), audit.fingerprint_lane(bytea, integer),
    audit.manifest_entry_hash(audit.manifests)
    TO warehouse_loader;
