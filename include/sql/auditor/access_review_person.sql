-- What has one person accessed: their access review?
--
-- Parameters (psql variables):
--   :'person'  the person's principal name (UPN, e-mail), display name or external_user_id
-- Run:
--   psql -v person=bob@contoso.com -f include/sql/auditor/access_review_person.sql
--
-- One row per resource the person accessed, as of the reports' latest day, most recent
-- first: first and last access, last success, active days in the last 30 and 90 days, events
-- and the MFA share of the last 90 days (mfa_unknown_90: successes whose MFA the source cannot
-- tell), last IP and country, and what the person is (a stub no directory knows, a guest,
-- disabled or deleted: empty where no population knows them). evaluable false: a source of
-- the row did not cover every day of the last 90, so its day counts are a lower bound.
SELECT person, person_name, resource, resource_type, first_access_at, last_access_at,
       last_success_at, active_days_30, active_days_90, events_90, mfa_percent_90,
       mfa_unknown_90, last_ip, last_country, sources, person_is_stub, is_guest, is_disabled,
       is_deleted, as_of, evaluable, status
FROM auditor.access_review
WHERE lower(person) = lower(:'person')
   OR lower(person_name) = lower(:'person')
   OR external_user_id::text = lower(:'person')
ORDER BY last_access_at DESC NULLS LAST, resource;
