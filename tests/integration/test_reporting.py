"""The reporting tables against figures computed by hand on a small fixed data set.

The events go through the real load path (Entra sign-ins and directory audits as Graph writes
them, a ClickHouse query log row), each day in its own window, so coverage comes from real
batches and completeness rows. The populations are inserted as a snapshot would leave them.

Data set (as of 2026-11-10; dormant after 5 days; review windows 2 and 5 days):

- sign-ins, windows of one day from Nov 6 to Nov 10 (all loaded):
  alice (member, MFA) Portal Nov 6 10:00 + Nov 9 08:00, from DE / 10.0.0.1;
  bob (member) Portal Nov 8 09:00 single factor, Nov 8 11:00 v1.0 shape (MFA unknown) from FR;
  carol (guest) Payroll Nov 7 12:00 with MFA;
  spraying on Nov 9 from 203.0.113.9: alice 10:00, bob 10:05, carol 10:10 (50126);
  brute force on Nov 10 from 198.51.100.7: bob 09:00, 09:05, 09:10, 09:15 (50126) and a
  lockout 09:20 (50053).
- directory audits, one window Nov 6 - Nov 11: alice adds bob to Global Administrator (Nov 8),
  adds carol to "All Employees" (not privileged) and to "Helpdesk Tier 1" (privileged) (Nov 9).
- ClickHouse, one window Nov 9 - Nov 11 only: admin (a stub) GRANTs on Nov 9.
- populations: the directory (alice, bob, carol guest, dave disabled with a directory last
  success on Nov 1, erin never, frank created Nov 9); the ClickHouse server (admin, reader).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from access_warehouse.config import parse_sources
from access_warehouse.landing import ExtractWindow, LandingBatch
from access_warehouse.load import load_batch
from access_warehouse.reporting.build import build_reports
from access_warehouse.reporting.config import ReportingConfig, load_reporting_config

AS_OF = date(2026, 11, 10)
SIGNINS = "entra:contoso:signins"
AUDITS = "entra:contoso:directory_audits"
CLICKHOUSE = "clickhouse_query_log:events"

SOURCES = [
    {"kind": "entra", "name": "contoso", "tenant_id": "contoso", "conn_id": "msgraph_default"},
    {
        "kind": "clickhouse_query_log",
        "name": "events",
        "conn_id": "events_clickhouse",
        "server": "ch-prod",
        "identity": {"template": "{login}@contoso.com", "template_logins": ["*.*"]},
    },
]

PEOPLE = {
    "alice": ("00000000-0000-4000-8000-00000000000a", "Alice Smith", "alice@contoso.com"),
    "bob": ("00000000-0000-4000-8000-00000000000b", "Bob Jones", "bob@contoso.com"),
    "carol": (
        "00000000-0000-4000-8000-00000000000c",
        "Carol Guest",
        "carol_fabrikam.com#EXT#@contoso.com",
    ),
}
PORTAL = ("11111111-0000-4000-8000-000000000001", "Portal")
PAYROLL = ("11111111-0000-4000-8000-000000000002", "Payroll")


def _config() -> ReportingConfig:
    shipped = load_reporting_config()
    return shipped.model_copy(
        update={
            "dormant_after_days": 5,
            "review_windows_days": (2, 5),
            "failed_signins": shipped.failed_signins.model_copy(
                update={"spraying_min_principals": 3, "brute_force_min_failures": 4}
            ),
        }
    )


def signin(
    event_id: str,
    at: str,
    who: str,
    *,
    app: tuple[str, str] = PORTAL,
    ip: str = "10.0.0.1",
    country: str = "DE",
    error: int = 0,
    mfa: str | None = "mfa",
) -> dict[str, Any]:
    user_id, name, upn = PEOPLE[who]
    record: dict[str, Any] = {
        "id": event_id,
        "createdDateTime": at,
        "userId": user_id,
        "userDisplayName": name,
        "userPrincipalName": upn,
        "appId": app[0],
        "appDisplayName": app[1],
        "ipAddress": ip,
        "location": {"countryOrRegion": country, "city": "X"},
        "clientAppUsed": "Browser",
        "status": {"errorCode": error, "failureReason": "bad password" if error else None},
    }
    if mfa == "mfa":
        record["authenticationRequirement"] = "multiFactorAuthentication"
    elif mfa == "single":
        record["authenticationRequirement"] = "singleFactorAuthentication"
    return record


def directory_audit(event_id: str, at: str, activity: str, member: str, *, role=None, group=None):
    user_id, _name, upn = PEOPLE[member]
    actor_id, actor_name, actor_upn = PEOPLE["alice"]
    kind, prefix, privilege = ("Role", "Role", role) if role else ("Group", "Group", group)
    return {
        "id": event_id,
        "activityDateTime": at,
        "activityDisplayName": activity,
        "category": "RoleManagement" if role else "GroupManagement",
        "operationType": "Assign" if role else "Add",
        "result": "success",
        "loggedByService": "Core Directory",
        "initiatedBy": {
            "user": {
                "id": actor_id,
                "displayName": actor_name,
                "userPrincipalName": actor_upn,
                "ipAddress": "10.0.0.1",
            }
        },
        "targetResources": [
            {
                "id": user_id,
                "type": "User",
                "userPrincipalName": upn,
                "modifiedProperties": [
                    {
                        "displayName": f"{prefix}.DisplayName",
                        "oldValue": None,
                        "newValue": json.dumps(privilege),
                    }
                ],
            },
            {"id": f"{kind.lower()}-{privilege}", "type": kind, "displayName": privilege},
        ],
    }


def grant_row(at: str) -> dict[str, Any]:
    return {
        "hostname": "ch-prod-1",
        "type": "QueryFinish",
        "event_time_microseconds": at,
        "query_start_time_microseconds": at,
        "query_duration_ms": 2,
        "query_id": "q-grant-1",
        "initial_query_id": "q-grant-1",
        "is_initial_query": 1,
        "is_internal": 0,
        "user": "admin",
        "initial_user": "admin",
        "address": "::ffff:10.9.9.9",
        "interface": "HTTP",
        "current_database": "default",
        "query_kind": "Grant",
        "databases": [],
        "tables": [],
        "exception_code": 0,
        "exception": "",
        "query": "GRANT SELECT ON sales.* TO analyst",
    }


def _day(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def load(dsn: str, feed: Any, start: str, end: str, records: list[dict[str, Any]]) -> Any:
    batch = LandingBatch(
        dsn,
        source_id=feed.source_id,
        source_kind=feed.record_kind,
        window=ExtractWindow(_day(start), _day(end), timedelta(0)),
    )
    if records:
        batch.write_page(records)
    batch.finish("extracted")
    batch.close()
    return load_batch(dsn, batch.batch_id, feed)


SIGNIN_DAYS: dict[str, list[dict[str, Any]]] = {
    "2026-11-06": [signin("s1", "2026-11-06T10:00:00Z", "alice")],
    "2026-11-07": [signin("s2", "2026-11-07T12:00:00Z", "carol", app=PAYROLL, country="NL")],
    "2026-11-08": [
        signin("s3", "2026-11-08T09:00:00Z", "bob", mfa="single", ip="10.0.0.2", country="FR"),
        signin("s4", "2026-11-08T11:00:00Z", "bob", mfa=None, ip="10.0.0.3", country="FR"),
    ],
    "2026-11-09": [
        signin("s5", "2026-11-09T08:00:00Z", "alice"),
        *(
            signin(
                f"sp{n}",
                f"2026-11-09T10:{5 * n:02d}:00Z",
                who,
                ip="203.0.113.9",
                error=50126,
                mfa="single",
                country="RU",
            )
            for n, who in enumerate(("alice", "bob", "carol"))
        ),
    ],
    "2026-11-10": [
        *(
            signin(
                f"bf{n}",
                f"2026-11-10T09:{5 * n:02d}:00Z",
                "bob",
                ip="198.51.100.7",
                error=50126,
                mfa="single",
                country="CN",
            )
            for n in range(4)
        ),
        signin(
            "lock",
            "2026-11-10T09:20:00Z",
            "bob",
            ip="198.51.100.7",
            error=50053,
            mfa="single",
            country="CN",
        ),
    ],
}


def _insert_populations(dsn: str) -> None:
    snapshot = "20000000-0000-4000-8000-000000000001"
    db_snapshot = "20000000-0000-4000-8000-000000000002"
    taken = "2026-11-10T23:00:00Z"
    accounts = [
        # population, account, upn, enabled, type, created, directory last success, aliases
        ("entra:contoso", "alice", True, "member", "2025-01-01", None),
        ("entra:contoso", "bob", True, "member", "2025-01-01", None),
        ("entra:contoso", "carol", True, "guest", "2025-01-01", None),
        ("entra:contoso", "dave", False, "member", "2025-01-01", "2026-11-01T08:00:00Z"),
        ("entra:contoso", "erin", True, "member", "2025-01-01", None),
        ("entra:contoso", "frank", True, "member", "2026-11-09", None),
        ("database:ch-prod", "admin", True, "login", "2025-01-01", None),
        ("database:ch-prod", "reader", True, "login", "2025-01-01", None),
    ]
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO audit.populations (population_id, kind, source_ids) VALUES "
            "('entra:contoso', 'entra_users', %s), ('database:ch-prod', 'clickhouse_users', %s)",
            ([SIGNINS], [CLICKHOUSE]),
        )
        for population, snap in (("entra:contoso", snapshot), ("database:ch-prod", db_snapshot)):
            conn.execute(
                "INSERT INTO audit.population_snapshots (snapshot_id, population_id, taken_at, "
                "status, accounts) VALUES (%s, %s, %s, 'complete', 0)",
                (snap, population, taken),
            )
        for population, account, enabled, user_type, created, last_success in accounts:
            if account in PEOPLE:
                user_id, name, upn = PEOPLE[account]
                aliases = [user_id, upn.lower()]
            elif population == "entra:contoso":
                user_id, name, upn = f"id-{account}", account.title(), f"{account}@contoso.com"
                aliases = [user_id, upn]
            else:
                user_id, name, upn = account, account, account
                aliases = [f"ch-prod/{account}"]
            conn.execute(
                "INSERT INTO audit.population_accounts (population_id, account_id, valid_from, "
                "first_snapshot_id, last_snapshot_id, principal_name, display_name, enabled, "
                "user_type, account_created_at, last_successful_sign_in_at, aliases, "
                "content_hash) VALUES (%s, %s, '2026-01-01', %s, %s, %s, %s, %s, %s, %s, %s, "
                "%s, 'x')",
                (
                    population,
                    user_id if population == "entra:contoso" else account,
                    snapshot if population == "entra:contoso" else db_snapshot,
                    snapshot if population == "entra:contoso" else db_snapshot,
                    upn,
                    name,
                    enabled,
                    user_type,
                    created,
                    last_success,
                    aliases,
                ),
            )


@pytest.fixture
def reported(warehouse_dsn: str) -> dict[str, Any]:
    config = parse_sources(SOURCES, "test")
    signins = config.feed(SIGNINS)
    audits = config.feed(AUDITS)
    clickhouse = config.feed(CLICKHOUSE)
    for day, records in SIGNIN_DAYS.items():
        end = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
        load(warehouse_dsn, signins, day, end, records)
    load(
        warehouse_dsn,
        audits,
        "2026-11-06",
        "2026-11-11",
        [
            directory_audit("d1", "2026-11-08T15:00:00Z", "Add member to role", "bob",
                            role="Global Administrator"),
            directory_audit("d2", "2026-11-09T15:00:00Z", "Add member to group", "carol",
                            group="All Employees"),
            directory_audit("d3", "2026-11-09T15:30:00Z", "Add member to group", "carol",
                            group="Helpdesk Tier 1"),
        ],
    )  # fmt: skip
    load(warehouse_dsn, clickhouse, "2026-11-09", "2026-11-11", [grant_row("2026-11-09T07:00:00Z")])
    _insert_populations(warehouse_dsn)
    days = [date(2026, 11, 6) + timedelta(days=n) for n in range(5)]
    summary = build_reports(warehouse_dsn, days, as_of=AS_OF, config=_config())
    return {"dsn": warehouse_dsn, "summary": summary, "signins": signins}


def rows(dsn: str, query: str, params: Any = None) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def person_id(dsn: str, who: str) -> str:
    upn = PEOPLE[who][2].lower()
    return rows(
        dsn, "SELECT external_user_id FROM audit.external_user_aliases WHERE alias = %s", (upn,)
    )[0][0]


def test_source_days_say_which_days_each_source_covers(reported: dict[str, Any]) -> None:
    dsn = reported["dsn"]
    got = {
        (day.isoformat(), source): (status, float(share))
        for day, source, status, share in rows(
            dsn,
            "SELECT day, source_id, status, covered_share FROM reporting.source_days "
            "WHERE day BETWEEN '2026-11-06' AND '2026-11-10'",
        )
    }
    for n in range(6, 11):
        day = f"2026-11-{n:02d}"
        assert got[(day, SIGNINS)] == ("complete", 1.0)
        assert got[(day, AUDITS)] == ("complete", 1.0)
        expected = ("complete", 1.0) if n >= 9 else ("not_extracted", 0.0)
        assert got[(day, CLICKHOUSE)] == expected
    # before any window: nothing covers Nov 5 (it is in the 5-day evaluation period? no: the
    # period is Nov 6 - Nov 10, so the build wrote no row for it)
    assert ("2026-11-05", SIGNINS) not in got


def test_daily_access_counts_per_day_source_resource_and_person(reported: dict[str, Any]):
    dsn = reported["dsn"]
    bob = person_id(dsn, "bob")
    got = rows(
        dsn,
        "SELECT events, successes, failures, with_mfa, without_mfa, mfa_unknown, distinct_ips, "
        "distinct_countries, first_at, last_at, last_ip, last_country, evaluable, status "
        "FROM reporting.daily_access WHERE day = '2026-11-08' AND source_id = %s "
        "AND external_user_id = %s",
        (SIGNINS, bob),
    )
    assert got == [
        (
            2, 2, 0, 0, 1, 1, 2, 1,
            datetime(2026, 11, 8, 9, tzinfo=UTC), datetime(2026, 11, 8, 11, tzinfo=UTC),
            "10.0.0.3", "FR", True, "complete",
        )
    ]  # fmt: skip
    # Nov 10: bob's four failures and the lockout are one row (Portal)
    (failures,) = rows(
        dsn,
        "SELECT events, successes, failures FROM reporting.daily_access "
        "WHERE day = '2026-11-10' AND source_id = %s AND external_user_id = %s",
        (SIGNINS, bob),
    )
    assert failures == (5, 0, 5)
    # ClickHouse does not cover Nov 8: one marker row, counts unknown (NULL), never zero
    markers = rows(
        dsn,
        "SELECT config_id, external_user_id, events, evaluable, status FROM "
        "reporting.daily_access WHERE day = '2026-11-08' AND source_id = %s",
        (CLICKHOUSE,),
    )
    assert markers == [(None, None, None, False, "not_extracted")]
    # and a covered day without events of a source has no marker
    assert rows(
        dsn,
        "SELECT count(*) FROM reporting.daily_access WHERE day = '2026-11-10' AND source_id = %s",
        (CLICKHOUSE,),
    ) == [(0,)]


def test_mfa_coverage_per_resource_and_overall(reported: dict[str, Any]) -> None:
    dsn = reported["dsn"]
    got = {
        (day.isoformat(), scope, resource): rest
        for day, scope, resource, *rest in rows(
            dsn,
            "SELECT day, scope, resource_name, people, people_with_mfa, people_without_mfa, "
            "people_mfa_unknown, sign_ins, sign_ins_with_mfa, sign_ins_without_mfa, "
            "sign_ins_mfa_unknown, mfa_share, evaluable, not_evaluable_sources "
            "FROM reporting.mfa_coverage",
        )
    }
    # Nov 8: bob once without MFA, once unknown: a person without MFA; share 0 of 1 known
    assert got[("2026-11-08", "resource", "Portal")] == [1, 0, 1, 0, 2, 0, 1, 1, 0, True, []]
    assert got[("2026-11-08", "overall", None)] == [1, 0, 1, 0, 2, 0, 1, 1, 0, True, []]
    # Nov 7: carol on Payroll with MFA
    assert got[("2026-11-07", "resource", "Payroll")] == [1, 1, 0, 0, 1, 1, 0, 0, 1, True, []]
    # Nov 10: only failures: the overall row says zero sign-ins, and it can (covered)
    assert got[("2026-11-10", "overall", None)] == [0, 0, 0, 0, 0, 0, 0, 0, None, True, []]


def test_failed_signins_and_bursts(reported: dict[str, Any]) -> None:
    dsn = reported["dsn"]
    bob = person_id(dsn, "bob")
    got = rows(
        dsn,
        "SELECT source_ip, error_code, failures, lockouts, country FROM reporting.failed_signins "
        "WHERE day = '2026-11-10' AND external_user_id = %s ORDER BY error_code",
        (bob,),
    )
    assert got == [("198.51.100.7", "50053", 0, 1, "CN"), ("198.51.100.7", "50126", 4, 0, "CN")]
    bursts = rows(
        dsn,
        "SELECT day, pattern, source_ip, person, started_at, ended_at, failures, principals, "
        "lockouts FROM reporting.failed_signin_bursts ORDER BY day, pattern",
    )
    assert bursts == [
        (
            date(2026, 11, 9), "password_spraying", "203.0.113.9", None,
            datetime(2026, 11, 9, 10, tzinfo=UTC), datetime(2026, 11, 9, 10, 10, tzinfo=UTC),
            3, 3, 0,
        ),
        (
            date(2026, 11, 10), "brute_force", None, "bob@contoso.com",
            datetime(2026, 11, 10, 9, tzinfo=UTC), datetime(2026, 11, 10, 9, 15, tzinfo=UTC),
            4, 1, 1,
        ),
    ]  # fmt: skip


def test_privileged_changes(reported: dict[str, Any]) -> None:
    got = rows(
        reported["dsn"],
        "SELECT day, change_type, action, actor_login, target_name, privilege, new_value, "
        "statement FROM reporting.privileged_changes ORDER BY occurred_at",
    )
    assert got == [
        (
            date(2026, 11, 8), "role_assignment", "Add member to role", "alice@contoso.com",
            "bob@contoso.com", "Global Administrator",
            {"Role.DisplayName": "Global Administrator"}, None,
        ),
        (
            date(2026, 11, 9), "database_grant", "GRANT", "admin", "ch-prod", None, None,
            "GRANT SELECT ON sales.* TO analyst",
        ),
        (
            date(2026, 11, 9), "privileged_group_membership", "Add member to group",
            "alice@contoso.com", "carol_fabrikam.com#EXT#@contoso.com", "Helpdesk Tier 1",
            {"Group.DisplayName": "Helpdesk Tier 1"}, None,
        ),
    ]  # fmt: skip


def test_access_review(reported: dict[str, Any]) -> None:
    dsn = reported["dsn"]
    got = {
        (person, resource): rest
        for person, resource, *rest in rows(
            dsn,
            "SELECT person, resource_name, first_access_at, last_access_at, active_days_30, "
            "active_days_90, events_90, mfa_share_90, last_ip, last_country, is_stub, is_guest, "
            "is_disabled, is_deleted, evaluable FROM reporting.access_review "
            "WHERE resource_name IN ('Portal', 'Payroll')",
        )
    }
    alice = got[("alice@contoso.com", "Portal")]
    # Nov 6 and Nov 9 successes; the 2-day window (Nov 9-10) has Nov 9; Nov 9's spraying
    # failure is an event but not an active day of its own, nor part of the MFA share
    assert alice[:4] == [
        datetime(2026, 11, 6, 10, tzinfo=UTC),
        datetime(2026, 11, 9, 10, tzinfo=UTC),
        1,
        2,
    ]
    assert alice[4:] == [3, 1, "203.0.113.9", "RU", False, False, False, False, True]
    carol = got[("carol_fabrikam.com#EXT#@contoso.com", "Payroll")]
    assert carol[2:4] == [0, 1] and carol[9] is True  # a guest
    bob = got[("bob@contoso.com", "Portal")]
    assert bob[4:6] == [8, 0]  # 8 events in 5 days, MFA share 0 of 1 known
    # the ClickHouse stub's pair is not evaluable: ClickHouse covers 2 of the 5 days; the
    # server's login account names it (alias ch-prod/admin), a login, not a guest
    stub = rows(
        dsn,
        "SELECT is_stub, is_guest, evaluable, status FROM reporting.access_review "
        "WHERE sources = %s",
        ([CLICKHOUSE],),
    )
    assert stub == [(True, False, False, "not_evaluable")]


def test_dormant_accounts(reported: dict[str, Any]) -> None:
    got = {
        account: (status, days)
        for account, status, days in rows(
            reported["dsn"],
            "SELECT coalesce(principal_name, account_id), status, days_since_success "
            "FROM reporting.dormant_accounts",
        )
    }
    assert got == {
        "alice@contoso.com": ("active", 1),
        "bob@contoso.com": ("active", 2),
        "carol_fabrikam.com#EXT#@contoso.com": ("active", 3),
        "dave@contoso.com": ("dormant", 9),  # the directory's own last success: Nov 1
        "erin@contoso.com": ("never_signed_in", None),
        "frank@contoso.com": ("new_account", None),
        # ClickHouse covers only Nov 9-10 of the 5 days: no claim of dormancy either way,
        # except for admin, whose GRANT on Nov 9 is a success
        "admin": ("active", 1),
        "reader": ("not_evaluable", None),
    }


def test_rebuilding_is_idempotent_and_touches_only_its_days(reported: dict[str, Any]) -> None:
    dsn = reported["dsn"]
    tables = ("daily_access", "mfa_coverage", "failed_signins", "privileged_changes")

    def content(table: str) -> list[tuple]:
        columns = [
            name
            for (name,) in rows(
                dsn,
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                "'reporting' AND table_name = %s AND column_name NOT IN ('build_id', "
                "'built_at') ORDER BY ordinal_position",
                (table,),
            )
        ]
        return sorted(rows(dsn, f"SELECT {', '.join(columns)} FROM reporting.{table}"), key=repr)

    def stamps(table: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for day, build in rows(dsn, f"SELECT day::text, build_id::text FROM reporting.{table}"):
            found.setdefault(day, set()).add(build)
        return found

    before = {table: content(table) for table in tables}
    stamps_before = {table: stamps(table) for table in tables}
    again = build_reports(dsn, [date(2026, 11, 8)], as_of=AS_OF, config=_config())
    assert again.rebuilt_days == ["2026-11-08"]
    assert {table: content(table) for table in tables} == before
    for table in tables:
        after = stamps(table)
        for day, builds in after.items():
            if day == "2026-11-08":
                assert builds == {again.build_id}, table
            else:
                assert builds == stamps_before[table][day], (table, day)

    # a late sign-in of alice on Nov 7 arrives with a rerun of that window
    alice = person_id(dsn, "alice")
    late = signin("late", "2026-11-07T23:59:00Z", "alice", mfa="single")
    loaded = load(
        dsn, reported["signins"], "2026-11-07", "2026-11-08",
        [*SIGNIN_DAYS["2026-11-07"], late],
    )  # fmt: skip
    assert loaded.touched_days == ["2026-11-07"]
    third = build_reports(dsn, loaded.touched_days, as_of=AS_OF, config=_config())
    assert third.rebuilt_days == ["2026-11-07"]
    assert rows(
        dsn,
        "SELECT events, without_mfa, build_id::text FROM reporting.daily_access "
        "WHERE day = '2026-11-07' AND external_user_id = %s",
        (alice,),
    ) == [(1, 1, third.build_id)]
    assert stamps("daily_access")["2026-11-08"] == {again.build_id}
    # the overall MFA coverage of Nov 7 now counts alice without MFA
    assert rows(
        dsn,
        "SELECT people, people_with_mfa, people_without_mfa FROM reporting.mfa_coverage "
        "WHERE day = '2026-11-07' AND scope = 'overall'",
    ) == [(2, 1, 1)]


def test_a_day_without_coverage_is_never_zero(reported: dict[str, Any]) -> None:
    dsn = reported["dsn"]
    # Nov 11: nothing covers it; a build for it says so in every day table
    summary = build_reports(dsn, [date(2026, 11, 11)], as_of=AS_OF, config=_config())
    assert "2026-11-11" in summary.rebuilt_days
    assert rows(
        dsn,
        "SELECT people, sign_ins, evaluable FROM reporting.mfa_coverage WHERE day = '2026-11-11'",
    ) == [(None, None, False)]
    assert sorted(
        rows(
            dsn,
            "SELECT source_id, events, status FROM reporting.daily_access WHERE day = '2026-11-11'",
        )
    ) == [
        (CLICKHOUSE, None, "not_extracted"),
        (AUDITS, None, "not_extracted"),  # its window ends at Nov 11 00:00
        (SIGNINS, None, "not_extracted"),
    ]
    assert rows(
        dsn,
        "SELECT failures, status FROM reporting.failed_signins WHERE day = '2026-11-11'",
    ) == [(None, "not_extracted")]


def test_the_cli_rebuilds_a_range(reported: dict[str, Any], capsys) -> None:
    from access_warehouse.cli import main

    dsn = reported["dsn"]
    assert main(["build-reports", "--from", "2026-11-08", "--to", "2026-11-09",
                 "--as-of", "2026-11-10", "--dsn", dsn]) == 0  # fmt: skip
    printed = json.loads(capsys.readouterr().out)
    assert printed["days"] == ["2026-11-08", "2026-11-09"]
    latest = rows(dsn, "SELECT trigger FROM reporting.builds ORDER BY started_at DESC LIMIT 1")
    assert latest == [("cli",)]
    assert main(["build-reports", "--from", "2026-11-09", "--to", "2026-11-08", "--dsn", dsn]) == 2
    assert "ends (2026-11-08) before it starts" in capsys.readouterr().err


def test_why_a_day_is_not_evaluable(reported: dict[str, Any]) -> None:
    """Each reason a source does not cover a day, produced by the real load and extract paths:
    a window whose batch-level checks failed, an extract that failed, a window extracted after
    the source's own retention (Entra: 30 days) had passed, half a day loaded."""
    from dataclasses import replace

    from access_warehouse.extract import extract
    from access_warehouse.quality.batch_checks import BatchChecksFailed

    dsn, feed = reported["dsn"], reported["signins"]
    # Nov 12: 25 records without a time: all quarantined, over the 50% share: nothing loads
    broken = [{"id": f"x{n}", "userId": PEOPLE["bob"][0]} for n in range(25)]
    with pytest.raises(BatchChecksFailed):
        load(dsn, feed, "2026-11-12", "2026-11-13", broken)

    # Nov 13: the Graph request fails
    def failing(request: Any) -> Any:
        raise ConnectionError("graph.example unreachable")
        yield  # a generator, as fetchers are

    window = ExtractWindow(_day("2026-11-13"), _day("2026-11-14"), timedelta(0))
    with pytest.raises(ConnectionError):
        extract(dsn, replace(feed, fetch=failing), window=window)
    # Oct 20, extracted today: Entra had dropped that day already
    # (an empty window would fail the no_events check: each earlier window had events)
    load(dsn, feed, "2026-10-20", "2026-10-21", [signin("old", "2026-10-20T09:00:00Z", "bob")])
    # Nov 14: only the morning
    load(
        dsn, feed, "2026-11-14T00:00:00", "2026-11-14T06:00:00",
        [signin("early", "2026-11-14T05:00:00Z", "bob")],
    )  # fmt: skip

    days = [date(2026, 10, 20), date(2026, 11, 12), date(2026, 11, 13), date(2026, 11, 14)]
    build_reports(dsn, days, as_of=AS_OF, config=_config())
    got = {
        day.isoformat(): (status, evaluable, float(share), reason)
        for day, status, evaluable, share, reason in rows(
            dsn,
            "SELECT day, status, evaluable, covered_share, reason FROM reporting.source_days "
            "WHERE source_id = %s AND day = ANY(%s)",
            (SIGNINS, days),
        )
    }
    assert got["2026-11-12"][:3] == ("failed_checks", False, 0.0)
    assert "quarantine_share" in got["2026-11-12"][3]
    assert got["2026-11-13"][:3] == ("extract_failed", False, 0.0)
    assert "graph.example unreachable" in got["2026-11-13"][3]
    assert got["2026-10-20"][:3] == ("beyond_source_retention", False, 0.0)
    assert "30-day retention" in got["2026-10-20"][3]
    assert got["2026-11-14"] == (
        "partially_extracted", False, 0.25, "loaded windows cover 25.0% of the day"
    )  # fmt: skip
    # and the reports say so instead of zero
    # and the reports say so instead of zero: a marker row per day, and the events that did
    # load carry the day's status
    assert rows(
        dsn,
        "SELECT day::text, events, status FROM reporting.daily_access WHERE source_id = %s "
        "AND day = ANY(%s) ORDER BY day, events NULLS FIRST",
        (SIGNINS, days),
    ) == [
        ("2026-10-20", None, "beyond_source_retention"),
        ("2026-10-20", 1, "beyond_source_retention"),
        ("2026-11-12", None, "failed_checks"),
        ("2026-11-13", None, "extract_failed"),
        ("2026-11-14", None, "partially_extracted"),
        ("2026-11-14", 1, "partially_extracted"),
    ]
