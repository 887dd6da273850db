-- Which accounts are dormant?
--
-- Parameters: none (the reports' latest as-of day; the dormancy period is
-- dormant_after_days in include/config/reporting.yaml, shown on every row).
-- Run:
--   psql -f include/sql/auditor/dormant_accounts.sql
--
-- Every current account of every population (directory users, database logins) that did not
-- sign in: `dormant` (a successful access only before the last dormant_after_days days),
-- `never_signed_in` (none ever, every day of the period covered), then `not_evaluable` (no
-- success seen, but a source of the population does not cover every day of the period:
-- neither dormant nor active can be said; reason says why). Active accounts and accounts too
-- new to judge are not listed.
SELECT status, login, display_name, population, account_type, enabled, created_at,
       last_success_at, last_success_source, days_since_success, dormant_after_days,
       directory_last_successful_sign_in_at, evaluable, reason, as_of
FROM auditor.dormant_accounts
ORDER BY CASE status WHEN 'dormant' THEN 0 WHEN 'never_signed_in' THEN 1 ELSE 2 END,
         days_since_success DESC NULLS LAST, login, population;
