-- The demo: accounts per population and status as of the latest build (reporting.dormant_accounts).
SELECT population_id, status, count(*) AS accounts,
       (array_agg(coalesce(principal_name, account_id) ORDER BY account_id))[1:3] AS examples
FROM reporting.dormant_accounts
GROUP BY population_id, status
ORDER BY population_id, status
