INSERT INTO touched_pairs (external_user_id, config_id)
SELECT DISTINCT external_user_id, config_id
FROM reporting.daily_access
WHERE day = %(day)s AND external_user_id IS NOT NULL
