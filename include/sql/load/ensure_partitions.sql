SELECT coalesce(audit.ensure_access_event_partitions(min(occurred_at), max(occurred_at)), 0)
FROM staging_events
