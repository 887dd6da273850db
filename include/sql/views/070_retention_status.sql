-- Retention (README "Retention"): the guard on legal holds, the function that drops a monthly
-- partition, and reporting.retention_status.

-- A hold is evidence of its own: never deleted (release it instead), and once set it changes
-- only by being released, once. Every change waits for the purges under way (which take this
-- advisory lock shared, retention/hold_lock.sql) and makes the next ones wait for it, so a
-- purge never misses a hold set while it runs.
CREATE OR REPLACE FUNCTION etl.legal_holds_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('etl.legal_holds'));
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'legal hold % is never deleted: release it (UPDATE etl.legal_holds SET '
            'released_at = now() WHERE hold_id = ...)', OLD.hold_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.released_at IS NOT NULL AND NEW.released_by IS NULL THEN
        NEW.released_by := current_user;
    END IF;
    IF TG_OP = 'INSERT' THEN
        RETURN NEW;
    END IF;
    IF (NEW.hold_id, NEW.period_start, NEW.period_end, NEW.sources, NEW.reason, NEW.set_by,
        NEW.set_at)
       IS DISTINCT FROM
       (OLD.hold_id, OLD.period_start, OLD.period_end, OLD.sources, OLD.reason, OLD.set_by,
        OLD.set_at)
       OR (OLD.released_at IS NOT NULL
           AND (NEW.released_at, NEW.released_by) IS DISTINCT FROM
               (OLD.released_at, OLD.released_by)) THEN
        RAISE EXCEPTION 'legal hold % can only be released (released_at, once); set a new '
            'hold for another period or other sources', OLD.hold_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
-- a trigger function fires without EXECUTE; nobody needs to call it (060 revoked the others')
REVOKE EXECUTE ON FUNCTION etl.legal_holds_guard() FROM PUBLIC;
DROP TRIGGER IF EXISTS legal_holds_guard ON etl.legal_holds;
CREATE TRIGGER legal_holds_guard BEFORE INSERT OR UPDATE OR DELETE ON etl.legal_holds
    FOR EACH ROW EXECUTE FUNCTION etl.legal_holds_guard();

-- Retention drops a whole monthly partition of audit.access_events: detached, then dropped,
-- in the caller's transaction (its record and the manifest chain's entry commit with it).
-- DDL is the owner's, so this runs with the owner's rights, for a partition of that table
-- only; the loading role may call it (it may delete those rows anyway).
CREATE OR REPLACE FUNCTION audit.drop_access_event_partition(p_partition text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_partition !~ '^access_events_y[0-9]{4}m[0-9]{2}$' OR NOT EXISTS (
        SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'audit.access_events'::regclass
          AND c.relnamespace = 'audit'::regnamespace AND c.relname = p_partition) THEN
        RAISE EXCEPTION '% is not a monthly partition of audit.access_events', p_partition;
    END IF;
    EXECUTE format('ALTER TABLE audit.access_events DETACH PARTITION audit.%I', p_partition);
    EXECUTE format('DROP TABLE audit.%I', p_partition);
END $$;
REVOKE EXECUTE ON FUNCTION audit.drop_access_event_partition(text) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'warehouse_loader') THEN
        GRANT EXECUTE ON FUNCTION audit.drop_access_event_partition(text) TO warehouse_loader;
    END IF;
END $$;

-- The legal hold that keeps a row, if any (the first by id): a hold of the row's source (or of
-- every source; p_source NULL: a row of no single source, any hold) whose period overlaps
-- p_span, the time the row speaks for. One test for every candidate query of retention.
CREATE OR REPLACE FUNCTION etl.first_hold(p_holds jsonb, p_source text, p_span tstzrange)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT h.hold_id
    FROM jsonb_to_recordset(p_holds)
         AS h (hold_id text, period_start timestamptz, period_end timestamptz, sources text[])
    WHERE (p_source IS NULL OR cardinality(h.sources) = 0 OR p_source = ANY (h.sources))
      AND tstzrange(h.period_start, h.period_end) && p_span
    ORDER BY h.hold_id
    LIMIT 1
$$;
REVOKE EXECUTE ON FUNCTION etl.first_hold(jsonb, text, tstzrange) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'warehouse_loader') THEN
        GRANT EXECUTE ON FUNCTION etl.first_hold(jsonb, text, tstzrange) TO warehouse_loader;
    END IF;
END $$;

-- Per table and source: the policy, the oldest row kept, whether the data is complete from
-- there (no purge removed anything after it; else from when it is), rows kept past the policy
-- and why, the holds in force, the latest purge, the next purge date, and what it means
-- (landing: which batches can still be replayed). The figures and the config's holds are
-- those of the latest enforcing run (as_of); the holds set in etl.legal_holds are read now.
DROP VIEW IF EXISTS reporting.retention_status CASCADE;
CREATE VIEW reporting.retention_status AS
SELECT s.family,
       s.table_name,
       s.source_id,
       s.policy,
       s.policy_origin,
       s.cutoff,
       s.rows_kept,
       s.oldest_kept,
       s.complete_from,
       CASE WHEN s.oldest_kept IS NOT NULL
            THEN s.complete_from IS NOT DISTINCT FROM s.oldest_kept END AS complete_since_oldest,
       s.kept_past_policy,
       s.kept_because,
       s.config_holds || coalesce(h.holds, '{}')          AS holds_in_force,
       p.last_purge_at,
       p.last_purge_rows,
       s.next_purge,
       s.note,
       s.as_of
FROM reporting.retention_state s
LEFT JOIN LATERAL (
    SELECT array_agg(format('legal hold %s (%s .. %s, %s): %s (set by %s)', l.hold_id,
                            l.period_start::date, l.period_end::date,
                            coalesce(nullif(array_to_string(l.sources, ', '), ''),
                                     'every source'),
                            l.reason, l.set_by)
                     ORDER BY l.period_start, l.hold_id) AS holds
    FROM etl.legal_holds l
    WHERE (l.released_at IS NULL OR l.released_at > now())
      AND (cardinality(l.sources) = 0 OR s.source_id = '*' OR s.source_id = ANY (l.sources))
) h ON true
LEFT JOIN LATERAL (
    -- the latest enforcing run that removed rows of this table and source, and how many
    SELECT max(r.finished_at) AS last_purge_at,
           sum(CASE WHEN s.source_id = '*' THEN r.rows
                    ELSE (r.details -> 'sources' -> s.source_id ->> 'rows')::bigint END)::bigint
               AS last_purge_rows
    FROM etl.retention_runs r
    WHERE NOT r.dry_run AND r.rows > 0 AND r.table_name = s.table_name
      AND (s.source_id = '*' OR r.details -> 'sources' ? s.source_id)
      AND r.enforcement_id = (
            SELECT r2.enforcement_id FROM etl.retention_runs r2
            WHERE NOT r2.dry_run AND r2.rows > 0 AND r2.table_name = s.table_name
              AND (s.source_id = '*' OR r2.details -> 'sources' ? s.source_id)
            ORDER BY r2.finished_at DESC LIMIT 1)
) p ON true;
GRANT SELECT ON reporting.retention_status TO auditor_readonly;
