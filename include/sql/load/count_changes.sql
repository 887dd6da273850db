SELECT count(*) FILTER (WHERE change_kind = 'new'),
       count(*) FILTER (WHERE change_kind = 'changed'),
       count(*) FILTER (WHERE change_kind = 'same')
FROM staging_events
