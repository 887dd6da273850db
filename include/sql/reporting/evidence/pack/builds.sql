-- The reporting builds whose rows the pack's files hold (the same filters as the files), with
-- what reporting.builds says of each (NULL columns: a build id without a builds row).
WITH ids AS (
    SELECT build_id FROM reporting.daily_access
    WHERE day BETWEEN %(period_start)s::date AND %(period_end)s::date
      AND external_user_id IS NOT NULL
    UNION
    SELECT build_id FROM reporting.access_review
    UNION
    SELECT build_id FROM reporting.dormant_accounts
    UNION
    SELECT build_id FROM reporting.privileged_changes
    WHERE day BETWEEN %(period_start)s::date AND %(period_end)s::date
    UNION
    SELECT build_id FROM reporting.failed_signins
    WHERE day BETWEEN %(period_start)s::date AND %(period_end)s::date
    UNION
    SELECT build_id FROM reporting.failed_signin_bursts
    WHERE day BETWEEN %(period_start)s::date AND %(period_end)s::date
    UNION
    SELECT build_id FROM reporting.source_days
    WHERE day BETWEEN %(period_start)s::date AND %(period_end)s::date
)
SELECT ids.build_id, b.trigger, b.dag_id, b.run_id, b.as_of, cardinality(b.days) AS days,
       b.started_at, b.finished_at
FROM ids
LEFT JOIN reporting.builds b ON b.build_id = ids.build_id
ORDER BY b.started_at NULLS LAST, ids.build_id
