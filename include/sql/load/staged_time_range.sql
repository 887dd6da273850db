SELECT min(occurred_at), max(occurred_at) FROM staging_events
