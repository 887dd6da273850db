SELECT count(*) FILTER (WHERE change_kind = 'new'),
       count(*) FILTER (WHERE change_kind = 'changed'),
       count(*) FILTER (WHERE change_kind IN ('same', 'stale')),
       count(*) FILTER (WHERE change_kind = 'stale')
FROM staging_events
