-- Every current account of every population with its dormancy status as of the build's day
-- (reporting.dormant_accounts holds the latest build only; as_of says which day).
SELECT population_id,
       account_id,
       principal_name,
       display_name,
       external_user_id,
       user_type,
       enabled,
       account_created_at,
       sources,
       last_success_at,
       last_success_source,
       directory_last_successful_sign_in_at,
       directory_last_sign_in_at,
       days_since_success,
       dormant_after_days,
       as_of,
       snapshot_taken_at,
       status,
       reason,
       build_id,
       built_at
FROM reporting.dormant_accounts
ORDER BY population_id COLLATE "C", account_id COLLATE "C"
