-- The demo's sample of database activity, as auditors read it.
SELECT occurred_at, server, database_name, object_name, action, login, person, is_stub,
       left(statement, 70) AS statement
FROM auditor.database_access
WHERE source_id = %(source_id)s
ORDER BY occurred_at, event_id
LIMIT %(limit)s
