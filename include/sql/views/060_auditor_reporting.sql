-- What auditors read (README "For auditors"): every event in plain terms, and one view over
-- each reporting table and the current population, with plain column names. Rows a report
-- cannot speak for keep `evaluable` and `status`: a not-evaluable row never means zero, and
-- its counts stay NULL. No view shows landing payloads, an event's raw `properties` or a
-- connection id (audit.sources.conn_id, audit.populations.conn_id): sources are named by
-- their ids only. The views run with their owner's rights on audit and reporting; the role
-- auditor_readonly reads them and nothing of audit.

-- Every event: when, who (the person and the login the source named), what (the resource),
-- which action with which outcome, MFA, from where, and which source said so.
DROP VIEW IF EXISTS auditor.access CASCADE;
CREATE VIEW auditor.access AS
SELECT e.occurred_at,
       coalesce(u.principal_name, u.display_name) AS person,
       u.display_name                             AS person_name,
       u.is_stub                                  AS person_is_stub,
       CASE WHEN e.actor_type = 'database_role' THEN e.actor_name
            ELSE coalesce(e.actor_principal_name, e.actor_name) END AS login,
       e.actor_type                               AS account_type,
       coalesce(c.name, e.target_name)            AS resource,
       coalesce(c.type, e.target_type)            AS resource_type,
       e.target_external_id                       AS resource_id,
       e.category,
       e.action,
       e.outcome,
       e.mfa,
       CASE e.mfa WHEN true THEN 'yes' WHEN false THEN 'no' ELSE 'unknown' END AS mfa_used,
       e.auth_method,
       e.error_code,
       e.failure_reason,
       e.source_ip                                AS ip_address,
       e.country,
       e.city,
       e.client_app,
       e.user_agent,
       e.properties ->> 'statement'               AS statement,
       e.source_id                                AS source,
       s.kind                                     AS source_kind,
       s.tenant_id                                AS tenant,
       e.external_user_id,
       e.config_id,
       e.event_id,
       e.batch_id
FROM audit.access_events e
JOIN audit.external_users u ON u.id = e.external_user_id
LEFT JOIN audit.config_items c ON c.id = e.config_id
LEFT JOIN audit.sources s ON s.source_id = e.source_id;

-- Per source and UTC day: can the reports speak for it, and if not, why.
DROP VIEW IF EXISTS auditor.source_coverage CASCADE;
CREATE VIEW auditor.source_coverage AS
SELECT d.day,
       d.source_id                                AS source,
       s.kind                                     AS source_kind,
       s.tenant_id                                AS tenant,
       d.evaluable,
       d.status,
       round(d.covered_share * 100, 1)            AS covered_percent,
       d.reason,
       d.built_at
FROM reporting.source_days d
LEFT JOIN audit.sources s ON s.source_id = d.source_id;

-- Per day, source, resource and person. A day a source does not cover is one row without
-- resource and person, counts NULL, evaluable false and the reason.
DROP VIEW IF EXISTS auditor.daily_access CASCADE;
CREATE VIEW auditor.daily_access AS
SELECT a.day,
       a.source_id                                AS source,
       a.resource_name                            AS resource,
       a.resource_type,
       a.person,
       a.events,
       a.successes,
       a.failures,
       a.unknown_outcome,
       a.with_mfa,
       a.without_mfa,
       a.mfa_unknown,
       a.distinct_ips,
       a.distinct_countries,
       a.first_at,
       a.last_at,
       a.last_success_at,
       a.last_ip,
       a.last_country,
       a.categories,
       a.evaluable,
       a.status,
       CASE WHEN NOT a.evaluable THEN coalesce(d.reason, a.status) END AS not_evaluable_because,
       a.external_user_id,
       a.config_id,
       a.built_at
FROM reporting.daily_access a
LEFT JOIN reporting.source_days d ON d.day = a.day AND d.source_id = a.source_id;

-- Per day, per resource (scope resource) and over every resource (scope overall): people and
-- successful sign-ins with MFA, without, and where the source cannot tell.
DROP VIEW IF EXISTS auditor.mfa_coverage CASCADE;
CREATE VIEW auditor.mfa_coverage AS
SELECT m.day,
       m.scope,
       m.resource_name                            AS resource,
       m.people,
       m.people_with_mfa,
       m.people_without_mfa,
       m.people_mfa_unknown,
       m.sign_ins,
       m.sign_ins_with_mfa,
       m.sign_ins_without_mfa,
       m.sign_ins_mfa_unknown,
       -- of the sign-ins that say either way; NULL when none does (not 0)
       round(m.mfa_share * 100, 1)                AS mfa_percent,
       m.sources,
       m.not_evaluable_sources,
       m.evaluable,
       m.status,
       m.config_id,
       m.built_at
FROM reporting.mfa_coverage m;

-- Failed sign-ins per day, source, person, IP and reason, lockouts apart; days a source does
-- not cover as in daily_access.
DROP VIEW IF EXISTS auditor.failed_signins CASCADE;
CREATE VIEW auditor.failed_signins AS
SELECT f.day,
       f.source_id                                AS source,
       f.person,
       f.principal                                AS login,
       f.source_ip                                AS ip_address,
       f.country,
       f.error_code,
       f.failure_reason,
       f.failures,
       f.lockouts,
       f.first_at,
       f.last_at,
       f.evaluable,
       f.status,
       CASE WHEN NOT f.evaluable THEN coalesce(d.reason, f.status) END AS not_evaluable_because,
       f.external_user_id,
       f.built_at
FROM reporting.failed_signins f
LEFT JOIN reporting.source_days d ON d.day = f.day AND d.source_id = f.source_id;

-- Bursts of failures: one IP failing on many accounts (password spraying) or many failures on
-- one account (brute force), on the day they start.
DROP VIEW IF EXISTS auditor.failed_signin_bursts CASCADE;
CREATE VIEW auditor.failed_signin_bursts AS
SELECT b.day,
       b.pattern,
       CASE b.pattern
           WHEN 'password_spraying' THEN 'one IP address failing on many accounts'
           WHEN 'brute_force' THEN 'many failures on one account'
       END                                        AS pattern_meaning,
       b.source_ip                                AS ip_address,
       b.person,
       b.started_at,
       b.ended_at,
       b.failures,
       b.principals                               AS accounts,
       b.lockouts,
       b.sources,
       b.thresholds,
       b.external_user_id,
       b.built_at
FROM reporting.failed_signin_bursts b;

-- Changes to privilege, who made them and on what.
DROP VIEW IF EXISTS auditor.privileged_changes CASCADE;
CREATE VIEW auditor.privileged_changes AS
SELECT p.day,
       p.occurred_at,
       p.change_type,
       p.action,
       p.outcome,
       p.actor                                    AS changed_by,
       p.actor_login                              AS changed_by_login,
       p.target_type,
       p.target_name                              AS target,
       p.target_external_id                       AS target_id,
       p.privilege,
       p.old_value,
       p.new_value,
       p.statement,
       p.source_ip                                AS ip_address,
       p.source_id                                AS source,
       p.event_id,
       p.actor_user_id                            AS changed_by_user_id,
       p.built_at
FROM reporting.privileged_changes p;

-- Per person and resource, as of a day: what an access review asks.
DROP VIEW IF EXISTS auditor.access_review CASCADE;
CREATE VIEW auditor.access_review AS
SELECT r.person,
       r.display_name                             AS person_name,
       r.resource_name                            AS resource,
       r.resource_type,
       r.sources,
       r.first_access_at,
       r.last_access_at,
       r.last_success_at,
       r.active_days_30,
       r.active_days_90,
       r.events_90,
       round(r.mfa_share_90 * 100, 1)             AS mfa_percent_90,
       r.mfa_unknown_90,
       r.last_ip,
       r.last_country,
       r.is_stub                                  AS person_is_stub,
       r.is_guest,
       r.is_disabled,
       r.is_deleted,
       r.as_of,
       r.evaluable,
       r.status,
       r.external_user_id,
       r.config_id,
       r.built_at
FROM reporting.access_review r;

-- Accounts that did not sign in: dormant, never signed in, or not evaluable (their sources do
-- not cover the whole period: that is not "active"). Active and too-new accounts are left out.
DROP VIEW IF EXISTS auditor.dormant_accounts CASCADE;
CREATE VIEW auditor.dormant_accounts AS
SELECT d.population_id                            AS population,
       d.account_id,
       d.principal_name                           AS login,
       d.display_name,
       d.user_type                                AS account_type,
       d.enabled,
       d.account_created_at                       AS created_at,
       d.status,
       d.status <> 'not_evaluable'                AS evaluable,
       d.reason,
       d.days_since_success,
       d.dormant_after_days,
       d.last_success_at,
       d.last_success_source,
       d.directory_last_successful_sign_in_at,
       d.directory_last_sign_in_at,
       d.sources,
       d.as_of,
       d.snapshot_taken_at,
       d.external_user_id,
       d.built_at
FROM reporting.dormant_accounts d
WHERE d.status IN ('dormant', 'never_signed_in', 'not_evaluable');

-- Every account that exists now (the current version of each account of each population,
-- deleted ones left out), with its activity status where the reports evaluated it.
DROP VIEW IF EXISTS auditor.accounts CASCADE;
CREATE VIEW auditor.accounts AS
SELECT a.population_id                            AS population,
       p.kind                                     AS population_kind,
       a.account_id,
       a.principal_name                           AS login,
       a.mail,
       a.display_name,
       a.user_type                                AS account_type,
       a.enabled,
       a.account_created_at                       AS created_at,
       a.last_successful_sign_in_at               AS directory_last_successful_sign_in_at,
       a.last_sign_in_at                          AS directory_last_sign_in_at,
       a.last_non_interactive_sign_in_at          AS directory_last_non_interactive_sign_in_at,
       d.status                                   AS activity_status,
       d.last_success_at,
       d.days_since_success,
       d.as_of                                    AS activity_as_of,
       a.valid_from                               AS this_version_since,
       s.taken_at                                 AS last_seen_in_snapshot_at,
       a.aliases                                  AS identifiers,
       d.external_user_id
FROM audit.population_accounts a
JOIN audit.populations p ON p.population_id = a.population_id
LEFT JOIN audit.population_snapshots s ON s.snapshot_id = a.last_snapshot_id
LEFT JOIN reporting.dormant_accounts d
       ON d.population_id = a.population_id AND d.account_id = a.account_id
WHERE a.valid_to IS NULL AND NOT a.deleted;

GRANT SELECT ON auditor.access, auditor.source_coverage, auditor.daily_access,
    auditor.mfa_coverage, auditor.failed_signins, auditor.failed_signin_bursts,
    auditor.privileged_changes, auditor.access_review, auditor.dormant_accounts,
    auditor.accounts TO auditor_readonly;

-- Functions: PUBLIC may execute every new function by default. The warehouse's own (partition
-- upkeep in audit, and whatever a later file adds) are for the login that loads, never for
-- auditors, who also lack USAGE on those schemas; in auditor and reporting, which auditors do
-- reach, no function is theirs to run either (tests/integration/test_auditor_role.py checks
-- that the role can execute no function outside pg_catalog).
REVOKE EXECUTE ON ALL ROUTINES IN SCHEMA landing, audit, dq, reporting, auditor, etl FROM PUBLIC;
