-- Staged events whose actor did not resolve to a person the warehouse holds (after the new
-- people of the batch were inserted): must be none.
SELECT count(*)
FROM staging_events s
WHERE s.external_user_id IS NULL
   OR NOT EXISTS (SELECT 1 FROM audit.external_users u WHERE u.id = s.external_user_id)
