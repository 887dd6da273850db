-- Monthly partitions of audit.access_events, created as a plain table and then attached: ATTACH
-- takes only SHARE UPDATE EXCLUSIVE on the parent, so it neither waits for nor blocks the loads
-- writing to it (CREATE TABLE ... PARTITION OF takes ACCESS EXCLUSIVE, and two loads creating
-- the same month deadlocked). Callers serialise with an advisory lock, in a transaction of
-- their own (see load.ensure_partitions).
CREATE OR REPLACE FUNCTION audit.attach_access_event_partition(p_month date)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    partition_name text := format('access_events_y%sm%s', to_char(p_month, 'YYYY'),
                                  to_char(p_month, 'MM'));
    lower_bound timestamptz := date_trunc('month', p_month)::timestamp AT TIME ZONE 'UTC';
    upper_bound timestamptz := (date_trunc('month', p_month) + interval '1 month')::timestamp
                               AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass('audit.' || partition_name) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- storage and compression too: large properties skip pglz (migration 0006)
    EXECUTE format('CREATE TABLE audit.%I (LIKE audit.access_events INCLUDING DEFAULTS '
                   'INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)',
                   partition_name);
    EXECUTE format('ALTER TABLE audit.access_events ATTACH PARTITION audit.%I '
                   'FOR VALUES FROM (%L) TO (%L)', partition_name, lower_bound, upper_bound);
    RETURN true;
END $$;
