-- The demo: overall MFA coverage of successful sign-ins per day (reporting.mfa_coverage).
SELECT day, people, people_with_mfa, people_without_mfa, people_mfa_unknown, sign_ins,
       round(100 * mfa_share, 1) AS mfa_percent,
       CASE WHEN evaluable THEN 'yes' ELSE 'no: ' || array_to_string(not_evaluable_sources, ', ')
       END AS evaluable
FROM reporting.mfa_coverage
WHERE scope = 'overall' AND day BETWEEN %(first_day)s AND %(last_day)s
ORDER BY day
