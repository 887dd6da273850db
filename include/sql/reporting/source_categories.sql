-- The event categories each source produced on the day: which sources a report needs to be
-- complete before it may speak for a day.
INSERT INTO reporting.source_categories (source_id, category, first_day, last_day)
SELECT source_id, category, %(day)s, %(day)s
FROM audit.access_events
WHERE occurred_at >= %(day_start)s AND occurred_at < %(day_end)s
GROUP BY source_id, category
ON CONFLICT (source_id, category) DO UPDATE
SET first_day = least(reporting.source_categories.first_day, excluded.first_day),
    last_day = greatest(reporting.source_categories.last_day, excluded.last_day)
