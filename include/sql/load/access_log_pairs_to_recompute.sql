-- The (config item, person) pairs whose access log must be recomputed from all of the source's
-- events: those of changed events, before and after the change. Pairs that only gained new
-- events are merged incrementally instead (merge_new_access_logs.sql).
CREATE TEMP TABLE access_log_pairs ON COMMIT DROP AS
SELECT DISTINCT config_id, external_user_id
FROM (
    SELECT config_id, external_user_id FROM staging_events WHERE change_kind = 'changed'
    UNION ALL
    SELECT previous_config_id, previous_external_user_id FROM staging_events
    WHERE change_kind = 'changed'
) pairs
WHERE config_id IS NOT NULL AND external_user_id IS NOT NULL
