-- reporting.mfa_coverage for one UTC day, over successful sign-ins (category authentication):
-- per resource and overall. A person counts once per scope: without MFA if any of their
-- sign-ins there had none, else with MFA if any had it, else unknown (the source cannot tell).
-- The sources that must cover the day are those that ever produced sign-ins; any that does
-- not makes the row not evaluable (its counts are what the covered sources saw).
WITH sign_ins AS (
    SELECT e.source_id, e.config_id, e.external_user_id, e.mfa
    FROM audit.access_events e
    WHERE e.occurred_at >= %(day_start)s AND e.occurred_at < %(day_end)s
      AND e.category = 'authentication' AND e.outcome = 'success'
),
needed AS (
    SELECT c.source_id, coalesce(d.evaluable, false) AS evaluable
    FROM reporting.source_categories c
    LEFT JOIN reporting.source_days d ON d.day = %(day)s AND d.source_id = c.source_id
    WHERE c.category = 'authentication'
),
gaps AS (
    SELECT coalesce(array_agg(source_id ORDER BY source_id) FILTER (WHERE NOT evaluable), '{}')
               AS sources
    FROM needed
),
scoped AS (
    SELECT 'resource' AS scope, config_id, external_user_id, mfa, source_id FROM sign_ins
    UNION ALL
    SELECT 'overall', NULL, external_user_id, mfa, source_id FROM sign_ins
),
people AS (
    SELECT scope, config_id, external_user_id,
           bool_or(mfa IS FALSE) AS any_without, bool_or(mfa IS TRUE) AS any_with
    FROM scoped
    GROUP BY scope, config_id, external_user_id
),
people_counts AS (
    SELECT scope, config_id,
           count(*) AS people,
           count(*) FILTER (WHERE any_with AND NOT any_without) AS with_mfa,
           count(*) FILTER (WHERE any_without) AS without_mfa,
           count(*) FILTER (WHERE NOT any_with AND NOT any_without) AS mfa_unknown
    FROM people
    GROUP BY scope, config_id
),
sign_in_counts AS (
    SELECT scope, config_id,
           count(*) AS sign_ins,
           count(*) FILTER (WHERE mfa IS TRUE) AS with_mfa,
           count(*) FILTER (WHERE mfa IS FALSE) AS without_mfa,
           count(*) FILTER (WHERE mfa IS NULL) AS mfa_unknown,
           array_agg(DISTINCT source_id ORDER BY source_id) AS sources
    FROM scoped
    GROUP BY scope, config_id
),
overall_row AS (
    -- an overall row even on a day without sign-ins: zero when covered, not evaluable if not
    SELECT 'overall'::text AS scope, NULL::uuid AS config_id
)
INSERT INTO reporting.mfa_coverage (
    day, scope, config_id, resource_name, people, people_with_mfa, people_without_mfa,
    people_mfa_unknown, sign_ins, sign_ins_with_mfa, sign_ins_without_mfa, sign_ins_mfa_unknown,
    mfa_share, sources, not_evaluable_sources, evaluable, status, build_id, built_at)
SELECT %(day)s, k.scope, k.config_id, c.name,
       -- no sign-in seen: zero only where every needed source covers the day, else unknown
       p.people, p.with_mfa, p.without_mfa, p.mfa_unknown,
       s.sign_ins, s.with_mfa, s.without_mfa, s.mfa_unknown,
       round(s.with_mfa::numeric / nullif(s.with_mfa + s.without_mfa, 0), 4),
       coalesce(s.sources, '{}'),
       g.sources,
       cardinality(g.sources) = 0,
       CASE WHEN cardinality(g.sources) = 0 THEN 'complete' ELSE 'not_evaluable' END,
       %(build_id)s, %(built_at)s
FROM (SELECT scope, config_id FROM sign_in_counts
      UNION SELECT scope, config_id FROM overall_row) k
CROSS JOIN gaps g
LEFT JOIN LATERAL (
    SELECT x.sign_ins, x.with_mfa, x.without_mfa, x.mfa_unknown, x.sources
    FROM sign_in_counts x
    WHERE x.scope = k.scope AND x.config_id IS NOT DISTINCT FROM k.config_id
    UNION ALL
    SELECT 0, 0, 0, 0, '{}'::text[]
    WHERE cardinality(g.sources) = 0 AND NOT EXISTS (
        SELECT 1 FROM sign_in_counts x
        WHERE x.scope = k.scope AND x.config_id IS NOT DISTINCT FROM k.config_id)
) s ON true
LEFT JOIN LATERAL (
    SELECT x.people, x.with_mfa, x.without_mfa, x.mfa_unknown
    FROM people_counts x
    WHERE x.scope = k.scope AND x.config_id IS NOT DISTINCT FROM k.config_id
    UNION ALL
    SELECT 0, 0, 0, 0
    WHERE cardinality(g.sources) = 0 AND NOT EXISTS (
        SELECT 1 FROM people_counts x
        WHERE x.scope = k.scope AND x.config_id IS NOT DISTINCT FROM k.config_id)
) p ON true
LEFT JOIN audit.config_items c ON c.id = k.config_id
