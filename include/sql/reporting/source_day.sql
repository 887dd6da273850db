-- For one UTC day [day_start, day_end): how far each registered source covers it.
--
-- A committed load covers what it asked for: a time window [window_start, window_end); a
-- bookmark or file feed everything the source held up to the extract's start (from the
-- source's first event, or its first load when it never had one). A window extracted after the
-- source's own retention (retention: {source_id: days}) covers only what the source still held
-- then: [extract start - retention, window_end). A load whose numbers do not reconcile
-- (dq.completeness not_reconciled) covers nothing. The day is complete when the union of what
-- the loads cover contains it; otherwise the status names why not: the worst attempt that
-- failed on it (extract_failed > failed_checks > not_reconciled), the source's retention, a
-- part of the day only, or no load at all. A day whose events retention removed (a dropped
-- partition of audit.access_events that held rows of the source, etl.retention_runs) is
-- removed_by_retention, whatever covered it: the events are gone, a rebuild cannot count them.
--
-- Rows are written only when they change (their build stamp stays otherwise); RETURNING
-- gives the sources whose status for the day changed.
WITH day_range AS (
    SELECT tstzrange(%(day_start)s, %(day_end)s) AS r
),
sources AS (
    SELECT s.source_id,
           make_interval(days => (%(retention)s::jsonb ->> s.source_id)::int) AS retention,
           (SELECT min(c.first_day)::timestamp AT TIME ZONE 'UTC'
            FROM reporting.source_categories c WHERE c.source_id = s.source_id) AS first_event_day,
           (SELECT min(b.extract_started_at)
            FROM audit.batches b WHERE b.source_id = s.source_id) AS first_load_at
    FROM audit.sources s
),
next_bookmark_load AS (
    -- the first bookmark/file load after the day: it covers the day's end
    SELECT n.*
    FROM sources s
    CROSS JOIN LATERAL (
        SELECT b.batch_id, b.source_id, b.window_start, b.window_end, b.extract_started_at
        FROM audit.batches b
        WHERE b.source_id = s.source_id AND b.window_start IS NULL
          AND b.extract_started_at > %(day_end)s
        ORDER BY b.extract_started_at
        LIMIT 1
    ) n
),
candidates AS (
    SELECT b.batch_id, b.source_id, b.window_start, b.window_end, b.extract_started_at
    FROM audit.batches b, day_range d
    WHERE b.window_start IS NOT NULL AND tstzrange(b.window_start, b.window_end) && d.r
    UNION ALL
    SELECT b.batch_id, b.source_id, b.window_start, b.window_end, b.extract_started_at
    FROM audit.batches b
    WHERE b.window_start IS NULL
      AND b.extract_started_at > %(day_start)s AND b.extract_started_at <= %(day_end)s
    UNION ALL
    SELECT batch_id, source_id, window_start, window_end, extract_started_at
    FROM next_bookmark_load
),
loads AS (
    SELECT c.source_id,
           coalesce(q.status, 'complete') AS status,
           CASE WHEN c.window_start IS NOT NULL
                THEN tstzrange(c.window_start, c.window_end)
                ELSE tstzrange(least(s.first_event_day, s.first_load_at), c.extract_started_at)
           END AS nominal,
           CASE WHEN c.window_start IS NOT NULL
                THEN tstzrange(least(c.window_end, greatest(c.window_start,
                                     c.extract_started_at - s.retention)), c.window_end)
                ELSE tstzrange(least(c.extract_started_at,
                                     greatest(least(s.first_event_day, s.first_load_at),
                                              c.extract_started_at - s.retention)),
                               c.extract_started_at)
           END AS covered
    FROM candidates c
    JOIN sources s USING (source_id)
    LEFT JOIN dq.completeness q ON q.batch_id = c.batch_id
),
failures AS (
    -- attempts that did not load, or loaded numbers that do not reconcile, on this day
    SELECT q.source_id, q.status, q.problems
    FROM dq.completeness q, day_range d
    WHERE q.status <> 'complete'
      AND (q.window_start IS NOT NULL AND tstzrange(q.window_start, q.window_end) && d.r
           OR q.window_start IS NULL AND q.recorded_at > %(day_start)s
              AND q.recorded_at <= coalesce(
                  (SELECT n.extract_started_at FROM next_bookmark_load n
                   WHERE n.source_id = q.source_id), 'infinity'))
),
per_source AS (
    SELECT s.source_id,
           s.retention,
           d.r,
           coalesce(range_agg(l.covered) FILTER (WHERE l.status = 'complete'),
                    '{}'::tstzmultirange) * tstzmultirange(d.r) AS covered,
           coalesce(range_agg(l.nominal) FILTER (WHERE l.status = 'complete'),
                    '{}'::tstzmultirange) * tstzmultirange(d.r) AS nominal
    FROM sources s
    CROSS JOIN day_range d
    LEFT JOIN loads l ON l.source_id = s.source_id
    GROUP BY s.source_id, s.retention, d.r
),
removed AS (
    -- the latest purge that dropped this day's events of each source
    SELECT DISTINCT ON (src.source_id) src.source_id, r.finished_at,
           coalesce(r.policy -> 'sources' -> src.source_id ->> 'keep', r.policy ->> 'keep') AS keep
    FROM etl.retention_runs r
    CROSS JOIN day_range d
    CROSS JOIN LATERAL jsonb_object_keys(r.details -> 'sources') AS src (source_id)
    WHERE r.action = 'drop_partition' AND NOT r.dry_run
      AND tstzrange(r.range_start, r.range_end) && d.r
    ORDER BY src.source_id, r.finished_at DESC
),
worst AS (
    SELECT f.source_id,
           (array_agg(f.status ORDER BY CASE f.status WHEN 'extract_failed' THEN 0
                                                      WHEN 'failed_checks' THEN 1
                                                      ELSE 2 END))[1] AS status,
           array_to_string(array_agg(DISTINCT p.problem), '; ') AS problems
    FROM failures f
    LEFT JOIN LATERAL unnest(f.problems) AS p (problem) ON true
    GROUP BY f.source_id
),
judged AS (
    SELECT p.source_id,
           (SELECT coalesce(sum(extract(epoch FROM upper(x) - lower(x))), 0)
            FROM unnest(p.covered) AS x) / extract(epoch FROM upper(p.r) - lower(p.r)) AS share,
           p.covered @> p.r AS complete,
           p.nominal <> p.covered AS clipped,
           p.retention,
           w.status AS failure,
           w.problems,
           x.finished_at AS removed_at,
           x.keep AS removed_under
    FROM per_source p
    LEFT JOIN worst w USING (source_id)
    LEFT JOIN removed x USING (source_id)
),
rows AS (
    SELECT j.source_id,
           CASE WHEN j.removed_at IS NOT NULL THEN 'removed_by_retention'
                WHEN j.complete THEN 'complete'
                WHEN j.failure IS NOT NULL THEN j.failure
                WHEN j.clipped THEN 'beyond_source_retention'
                WHEN j.share > 0 THEN 'partially_extracted'
                ELSE 'not_extracted'
           END AS status,
           round(j.share::numeric, 4) AS covered_share,
           CASE WHEN j.removed_at IS NOT NULL THEN
                    'events removed by retention on '
                    || to_char(j.removed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
                    || coalesce(' (access_events kept ' || j.removed_under || ')', '')
                WHEN j.complete THEN NULL
                WHEN j.failure IS NOT NULL THEN
                    j.failure || coalesce(': ' || nullif(j.problems, ''), '')
                WHEN j.clipped THEN
                    'extracted after the source''s own ' || extract(day FROM j.retention)
                    || '-day retention had dropped part of this day'
                WHEN j.share > 0 THEN
                    'loaded windows cover ' || round(100 * j.share::numeric, 1)
                    || '%% of the day'
                ELSE 'no loaded window covers this day'
           END AS reason
    FROM judged j
)
INSERT INTO reporting.source_days AS t
    (day, source_id, status, evaluable, covered_share, reason, build_id, built_at)
SELECT %(day)s, source_id, status, status = 'complete', covered_share, reason,
       %(build_id)s, %(built_at)s
FROM rows
ON CONFLICT (day, source_id) DO UPDATE
SET status = excluded.status, evaluable = excluded.evaluable,
    covered_share = excluded.covered_share, reason = excluded.reason,
    build_id = excluded.build_id, built_at = excluded.built_at
WHERE (t.status, t.covered_share, t.reason)
      IS DISTINCT FROM (excluded.status, excluded.covered_share, excluded.reason)
RETURNING source_id
