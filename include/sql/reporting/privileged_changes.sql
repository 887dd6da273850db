-- reporting.privileged_changes for one UTC day.
--
-- Directory audit records (iam events with a target_index: one event per target of a record)
-- give one row per record, on its first target's event; the role or group it is about comes
-- from the targets' modified properties (Role.DisplayName, Group.DisplayName), else from a role
-- or group target; old and new values are the first target's modified properties. The first
-- directory rule whose action pattern matches (and, with groups, whose group matches one of
-- them) names the change type. Every other event that is not a sign-in is matched against the
-- database rules, on its action or its statement. Rules: [{change_type, action, statement,
-- groups}], case-insensitive Postgres regular expressions.
WITH day_events AS (
    SELECT e.*
    FROM audit.access_events e
    WHERE e.occurred_at >= %(day_start)s AND e.occurred_at < %(day_end)s
      AND e.category <> 'authentication'
),
directory AS (
    SELECT e.*,
           regexp_replace(e.event_id, ':[0-9]+$', '') AS record_id,
           (e.properties ->> 'target_index')::int AS target_index,
           CASE WHEN jsonb_typeof(e.properties -> 'target' -> 'modifiedProperties') = 'array'
                THEN e.properties -> 'target' -> 'modifiedProperties' ELSE '[]'::jsonb
           END AS modified
    FROM day_events e
    WHERE e.category = 'iam' AND e.properties ? 'target_index'
),
privileges AS (
    SELECT d.source_id, d.record_id,
           coalesce(
               (array_agg(coalesce(nullif(m ->> 'newValue', ''), m ->> 'oldValue')
                          ORDER BY d.target_index)
                    FILTER (WHERE m ->> 'displayName' IN ('Role.DisplayName',
                                                          'Group.DisplayName')))[1],
               (array_agg(d.target_name ORDER BY d.target_index)
                    FILTER (WHERE d.target_type IN ('directory_role', 'group')))[1]
           ) AS privilege
    FROM directory d
    LEFT JOIN LATERAL jsonb_array_elements(d.modified) AS m ON true
    GROUP BY d.source_id, d.record_id
),
records AS (
    SELECT DISTINCT ON (d.source_id, d.record_id) d.*, p.privilege
    FROM directory d
    JOIN privileges p USING (source_id, record_id)
    ORDER BY d.source_id, d.record_id, d.target_index
),
directory_changes AS (
    SELECT r.*,
           (SELECT x.rule ->> 'change_type'
            FROM jsonb_array_elements(%(directory_rules)s::jsonb) WITH ORDINALITY AS x (rule, n)
            WHERE (x.rule ->> 'action' IS NOT NULL AND r.action ~* (x.rule ->> 'action')
                   OR x.rule ->> 'statement' IS NOT NULL
                      AND r.properties ->> 'statement' ~* (x.rule ->> 'statement'))
              AND (jsonb_array_length(coalesce(x.rule -> 'groups', '[]')) = 0
                   OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(x.rule -> 'groups') g
                              WHERE r.privilege ~* g))
            ORDER BY x.n
            LIMIT 1) AS change_type,
           (SELECT jsonb_object_agg(m ->> 'displayName', m -> 'oldValue')
            FROM jsonb_array_elements(r.modified) m
            WHERE m ->> 'displayName' IS NOT NULL) AS old_value,
           (SELECT jsonb_object_agg(m ->> 'displayName', m -> 'newValue')
            FROM jsonb_array_elements(r.modified) m
            WHERE m ->> 'displayName' IS NOT NULL) AS new_value
    FROM records r
),
database_changes AS (
    SELECT e.*,
           (SELECT x.rule ->> 'change_type'
            FROM jsonb_array_elements(%(database_rules)s::jsonb) WITH ORDINALITY AS x (rule, n)
            WHERE x.rule ->> 'action' IS NOT NULL AND e.action ~* (x.rule ->> 'action')
               OR x.rule ->> 'statement' IS NOT NULL
                  AND e.properties ->> 'statement' ~* (x.rule ->> 'statement')
            ORDER BY x.n
            LIMIT 1) AS change_type
    FROM day_events e
    WHERE NOT (e.category = 'iam' AND e.properties ? 'target_index')
),
changes AS (
    SELECT source_id, event_id, occurred_at, change_type, action, outcome, external_user_id,
           actor_name, actor_principal_name, target_type, target_name, target_external_id,
           privilege, old_value, new_value, properties ->> 'statement' AS statement, source_ip
    FROM directory_changes
    WHERE change_type IS NOT NULL
    UNION ALL
    SELECT source_id, event_id, occurred_at, change_type, action, outcome, external_user_id,
           actor_name, actor_principal_name, target_type, target_name, target_external_id,
           NULL, NULL, NULL, properties ->> 'statement', source_ip
    FROM database_changes
    WHERE change_type IS NOT NULL
)
INSERT INTO reporting.privileged_changes (
    day, occurred_at, source_id, event_id, change_type, action, outcome, actor_user_id, actor,
    actor_login, target_type, target_name, target_external_id, privilege, old_value, new_value,
    statement, source_ip, build_id, built_at)
SELECT %(day)s, c.occurred_at, c.source_id, c.event_id, c.change_type, c.action, c.outcome,
       c.external_user_id, coalesce(u.display_name, c.actor_name),
       coalesce(c.actor_principal_name, u.principal_name, c.actor_name),
       c.target_type, c.target_name, c.target_external_id, c.privilege, c.old_value,
       c.new_value, c.statement, c.source_ip, %(build_id)s, %(built_at)s
FROM changes c
LEFT JOIN audit.external_users u ON u.id = c.external_user_id
-- an event that moved to this day from a day not rebuilt in this build moves with it
ON CONFLICT (source_id, event_id) DO UPDATE
SET day = excluded.day, occurred_at = excluded.occurred_at, change_type = excluded.change_type,
    action = excluded.action, outcome = excluded.outcome, actor_user_id = excluded.actor_user_id,
    actor = excluded.actor, actor_login = excluded.actor_login,
    target_type = excluded.target_type, target_name = excluded.target_name,
    target_external_id = excluded.target_external_id, privilege = excluded.privilege,
    old_value = excluded.old_value, new_value = excluded.new_value,
    statement = excluded.statement, source_ip = excluded.source_ip,
    build_id = excluded.build_id, built_at = excluded.built_at
