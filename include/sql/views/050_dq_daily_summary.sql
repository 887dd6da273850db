-- One page per day: per source and UTC day, what was extracted, loaded, quarantined and
-- excluded, the checks that failed, and whether the day's windows reconcile.
--
-- The day of a window is the UTC day its data interval starts ([window_start + lookback,
-- window_end)); a feed without windows (bookmark, file manifest) counts on the day of the
-- attempt. Every extract attempt is a row of dq.completeness; the attempt that speaks for a
-- window is its latest one that loaded (complete or not_reconciled), else its latest one. A
-- failed attempt of a feed without windows is answered by any later attempt of the source
-- that loaded (a bookmark or manifest moves only when a load commits, so the next attempt asks
-- again what the failed one asked). The day is complete only when every window that speaks
-- is complete; otherwise its status is the worst among them
-- (extract_failed > failed_checks > not_reconciled).
DROP VIEW IF EXISTS dq.daily_summary CASCADE;
CREATE VIEW dq.daily_summary AS
WITH attempts AS (
    SELECT c.*,
           (coalesce(c.window_start + c.lookback, c.recorded_at) AT TIME ZONE 'UTC')::date AS day,
           c.status IN ('complete', 'not_reconciled') AS did_load,
           CASE c.status
               WHEN 'complete' THEN 0
               WHEN 'not_reconciled' THEN 1
               WHEN 'failed_checks' THEN 2
               ELSE 3
           END AS severity
    FROM dq.completeness c
),
speaking AS (
    SELECT a.*,
           NOT EXISTS (
               SELECT 1
               FROM attempts b
               WHERE b.source_id = a.source_id
                 AND b.batch_id <> a.batch_id
                 AND CASE
                         WHEN a.window_start IS NOT NULL THEN
                             b.window_start = a.window_start AND b.window_end = a.window_end
                             AND (b.did_load AND NOT a.did_load
                                  OR b.did_load = a.did_load
                                     AND (b.recorded_at, b.batch_id) > (a.recorded_at, a.batch_id))
                         ELSE
                             NOT a.did_load AND b.did_load AND b.recorded_at > a.recorded_at
                     END
           ) AS speaks
    FROM attempts a
),
checks AS (
    SELECT v.batch_id,
           count(DISTINCT v.validation_id) FILTER (WHERE v.status = 'failed') AS failed_validations,
           count(e.validation_id) FILTER (WHERE NOT e.success AND e.severity = 'error')
               AS failed_expectations
    FROM dq.validation_runs v
    LEFT JOIN dq.expectation_results e ON e.validation_id = v.validation_id
    GROUP BY v.batch_id
),
problem_lists AS (
    SELECT s.day, s.source_id,
           array_agg(p.problem ORDER BY s.recorded_at, s.batch_id, p.n) AS problems
    FROM speaking s
    CROSS JOIN LATERAL unnest(s.problems) WITH ORDINALITY AS p (problem, n)
    WHERE s.speaks
    GROUP BY s.day, s.source_id
)
SELECT s.day,
       s.source_id,
       count(*) AS batches,
       count(*) FILTER (WHERE s.speaks) AS windows,
       coalesce(sum(s.extracted) FILTER (WHERE s.speaks), 0)::bigint AS extracted,
       coalesce(sum(s.loaded) FILTER (WHERE s.speaks), 0)::bigint AS loaded,
       coalesce(sum(s.quarantined) FILTER (WHERE s.speaks), 0)::bigint AS quarantined,
       coalesce(sum(s.excluded) FILTER (WHERE s.speaks), 0)::bigint AS excluded,
       coalesce(sum(k.failed_validations), 0)::bigint AS failed_validations,
       coalesce(sum(k.failed_expectations), 0)::bigint AS failed_expectations,
       (ARRAY['complete', 'not_reconciled', 'failed_checks', 'extract_failed'])[
           max(s.severity) FILTER (WHERE s.speaks) + 1] AS status,
       coalesce(min(l.problems), '{}') AS problems
FROM speaking s
LEFT JOIN checks k ON k.batch_id = s.batch_id
LEFT JOIN problem_lists l ON l.day = s.day AND l.source_id = s.source_id
GROUP BY s.day, s.source_id;

-- Auditors read it as the other auditor views: through the auditor schema, granted to
-- auditor_readonly (the view runs with its owner's rights on dq).
DROP VIEW IF EXISTS auditor.daily_completeness CASCADE;
CREATE VIEW auditor.daily_completeness AS
SELECT day, source_id, batches, windows, extracted, loaded, quarantined, excluded,
       failed_validations, failed_expectations, status, problems
FROM dq.daily_summary;

GRANT SELECT ON auditor.daily_completeness TO auditor_readonly;
