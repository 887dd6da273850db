"""The auditors' example queries (include/sql/auditor/*.sql) and the auditor views over the
reporting tables: each query runs through psql with its parameters as psql variables (``-v``),
logged in as a member of ``auditor_readonly``, over a small data set written straight into
the audit and reporting tables (not by the reporting build), and returns exactly the rows that
answer its question: people, changes, accounts and IPs outside the period or status are left
out, and days the reports cannot speak for come back as rows of their own, never as zero."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Jsonb

from access_warehouse.paths import PROJECT_ROOT, SQL_DIR

QUERIES = SQL_DIR / "auditor"
README = PROJECT_ROOT / "README.md"
SIGNINS = "entra:contoso:signins"
AUDITS = "entra:contoso:directory_audits"
DB = "postgres_audit_trigger:appdb"
POPULATION = "entra:contoso"
BUILD = uuid.UUID(int=7)
BUILT_AT = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
SECRET_PROPERTY = "raw-property-S3cret-3d9a"


def uid(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"test-auditor-queries:{name}")


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def d(day: int) -> date:
    return date(2026, 11, day)


PEOPLE = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "henry", "ivan"]
PEOPLE += [f"p{n}" for n in range(1, 6)]


def person(name: str) -> str:
    return f"{name}@contoso.com"


def insert(conn: psycopg.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    schema, name = table.split(".")
    for row in rows:
        if schema == "reporting" and name != "source_categories":
            row = {"build_id": BUILD, "built_at": BUILT_AT, **row}
        row = {k: Jsonb(v) if isinstance(v, dict) else v for k, v in row.items()}
        conn.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier(schema, name),
                sql.SQL(", ").join(map(sql.Identifier, row)),
                sql.SQL(", ").join(sql.Placeholder() * len(row)),
            ),
            list(row.values()),
        )


def access(day: int, source: str, resource: str | None, who: str | None, **counts: Any):
    """A row of reporting.daily_access (a marker row when resource and who are None)."""
    if resource is None:
        return {"day": d(day), "source_id": source, "evaluable": False, "status": counts["status"]}
    return {
        "day": d(day),
        "source_id": source,
        "config_id": uid(resource),
        "resource_type": "table" if "." in resource else "application",
        "resource_name": resource,
        "external_user_id": uid(who),
        "person": person(who),
        "events": counts.get("successes", 0) + counts.get("failures", 0),
        "successes": counts.get("successes", 0),
        "failures": counts.get("failures", 0),
        "unknown_outcome": 0,
        "with_mfa": counts.get("with_mfa", 0),
        "without_mfa": counts.get("without_mfa", 0),
        "mfa_unknown": counts.get("mfa_unknown", 0),
        "first_at": at(day, 8),
        "last_at": at(day, counts.get("last_hour", 17)),
        "last_success_at": at(day, 16) if counts.get("successes") else None,
        "categories": counts.get("categories", ["authentication"]),
        "evaluable": True,
        "status": "complete",
    }


def failed(day: int, who: str, ip: str, failures: int, lockouts: int = 0, **extra: Any):
    return {
        "day": d(day),
        "source_id": SIGNINS,
        "external_user_id": uid(who),
        "person": person(who),
        "principal": person(who),
        "source_ip": ip,
        "error_code": "50053" if lockouts else "50126",
        "failure_reason": "Account is locked" if lockouts else "Invalid username or password",
        "failures": failures,
        "lockouts": lockouts,
        "first_at": at(day, 2),
        "last_at": at(day, 2, 30),
        "evaluable": True,
        "status": "complete",
        **extra,
    }


def dormant(who: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "population_id": POPULATION,
        "account_id": str(uid(f"account:{who}")),
        "principal_name": person(who),
        "display_name": who.title(),
        "external_user_id": uid(who),
        "user_type": "Member",
        "enabled": True,
        "account_created_at": datetime(2025, 1, 1, tzinfo=UTC),
        "sources": [SIGNINS],
        "dormant_after_days": 90,
        "as_of": d(29),
        "snapshot_taken_at": at(29, 5),
        "status": status,
        **extra,
    }


def population_account(who: str, **extra: Any) -> dict[str, Any]:
    return {
        "population_id": POPULATION,
        "account_id": str(uid(f"account:{who}")),
        "valid_from": datetime(2026, 10, 1, tzinfo=UTC),
        "first_snapshot_id": uid("snapshot"),
        "last_snapshot_id": uid("snapshot"),
        "principal_name": person(who),
        "mail": person(who),
        "display_name": who.title(),
        "enabled": True,
        "user_type": "Member",
        "aliases": [person(who)],
        "content_hash": who,
        **extra,
    }


def write_data_set(conn: psycopg.Connection) -> None:
    insert(
        conn,
        "audit.sources",
        [
            {"source_id": s, "source_uuid": uid(s), "kind": k, "tenant_id": t, "conn_id": c}
            for s, k, t, c in [
                (SIGNINS, "entra", "contoso", "msgraph_default"),
                (AUDITS, "entra", "contoso", "msgraph_default"),
                (DB, "postgres_audit_trigger", None, "appdb_audit"),
            ]
        ],
    )
    insert(
        conn,
        "audit.external_users",
        [
            {
                "id": uid(p),
                "actor_type": "user",
                "display_name": p.title(),
                "principal_name": person(p),
                "is_stub": False,
            }
            for p in PEOPLE
        ],
    )
    insert(
        conn,
        "audit.config_items",
        [
            {"id": uid(name), "type": kind, "external_id": f"ext-{name}", "name": name}
            for name, kind in [
                ("Payroll", "application"),
                ("Wiki", "application"),
                ("billing.invoices", "table"),
            ]
        ],
    )
    conn.execute("SELECT audit.attach_access_event_partition('2026-11-01')")
    event = {"actor_type": "user", "ingested_at": BUILT_AT, "batch_id": uid("batch")}
    insert(
        conn,
        "audit.access_events",
        [
            {
                **event,
                "source_id": SIGNINS,
                "event_id": "e-1",
                "occurred_at": at(10),
                "category": "authentication",
                "action": "signIn",
                "outcome": "success",
                "actor_principal_name": person("alice"),
                "actor_name": "Alice",
                "target_name": "Payroll",
                "target_external_id": "ext-Payroll",
                "mfa": True,
                "source_ip": "192.0.2.10",
                "country": "NL",
                "city": "Amsterdam",
                "external_user_id": uid("alice"),
                "config_id": uid("Payroll"),
                "properties": {"raw": SECRET_PROPERTY},
                "content_hash": "h1",
            },
            {
                **event,
                "source_id": DB,
                "event_id": "e-2",
                "occurred_at": at(11, 10),
                "category": "database",
                "action": "UPDATE",
                "outcome": "success",
                "actor_type": "database_role",
                "actor_name": "bob",
                "actor_principal_name": person("bob"),
                "actor_external_id": "app-db/bob",
                "target_name": "invoices",
                "target_type": "table",
                "external_user_id": uid("bob"),
                "config_id": uid("billing.invoices"),
                "properties": {
                    "statement": "UPDATE billing.invoices SET paid = true",
                    "row": SECRET_PROPERTY,
                },
                "content_hash": "h2",
            },
        ],
    )
    insert(
        conn,
        "reporting.source_categories",
        [
            {
                "source_id": SIGNINS,
                "category": "authentication",
                "first_day": d(1),
                "last_day": d(29),
            },
            {"source_id": AUDITS, "category": "iam", "first_day": d(1), "last_day": d(29)},
            {"source_id": DB, "category": "database", "first_day": d(5), "last_day": d(29)},
        ],
    )
    days = []
    for source in (SIGNINS, AUDITS, DB):
        for day in (10, 11, 12):
            days.append(
                {
                    "day": d(day),
                    "source_id": source,
                    "status": "complete",
                    "evaluable": True,
                    "covered_share": 1,
                }
            )
    days[2] |= {
        "status": "not_extracted",
        "evaluable": False,
        "covered_share": 0,
        "reason": "no window was extracted for the day",
    }
    days[5] |= {
        "status": "extract_failed",
        "evaluable": False,
        "covered_share": 0.25,
        "reason": "the extract failed: 503 Service Unavailable",
    }
    insert(conn, "reporting.source_days", days)  # nothing for the 13th: no report built
    insert(
        conn,
        "reporting.daily_access",
        [
            access(10, SIGNINS, "Payroll", "alice", successes=3, with_mfa=3),
            access(10, SIGNINS, "Wiki", "alice", successes=1, with_mfa=1),
            access(11, SIGNINS, "Payroll", "bob", successes=2, failures=1, without_mfa=2),
            access(
                11,
                DB,
                "billing.invoices",
                "bob",
                successes=1,
                mfa_unknown=1,
                categories=["database"],
            ),
            access(11, SIGNINS, "Wiki", "frank", successes=1, mfa_unknown=1),
            access(20, SIGNINS, "Payroll", "erin", successes=5, without_mfa=5),  # later
            access(12, SIGNINS, None, None, status="not_extracted"),
            access(12, AUDITS, None, None, status="extract_failed"),
        ],
    )
    insert(
        conn,
        "reporting.mfa_coverage",
        [
            {
                "day": d(11),
                "scope": "overall",
                "people": 2,
                "sign_ins": 4,
                "sign_ins_with_mfa": 1,
                "sign_ins_without_mfa": 1,
                "sign_ins_mfa_unknown": 2,
                "mfa_share": 0.5,
                "sources": [SIGNINS],
                "evaluable": True,
                "status": "complete",
            }
        ],
    )
    spray = "203.0.113.7"
    insert(
        conn,
        "reporting.failed_signins",
        [
            *(failed(11, f"p{n}", spray, 2, country="RU") for n in range(1, 6)),
            failed(11, "p1", spray, 0, lockouts=1, country="RU"),
            failed(11, "bob", "198.51.100.23", 1, country="DE"),
            failed(20, "erin", "192.0.2.99", 4),  # after the period
            {"day": d(12), "source_id": SIGNINS, "evaluable": False, "status": "not_extracted"},
        ],
    )
    insert(
        conn,
        "reporting.failed_signin_bursts",
        [
            {
                "day": d(11),
                "pattern": "password_spraying",
                "source_ip": spray,
                "started_at": at(11, 2),
                "ended_at": at(11, 2, 30),
                "failures": 10,
                "principals": 5,
                "lockouts": 1,
                "sources": [SIGNINS],
                "thresholds": {"spraying_min_principals": 5},
            }
        ],
    )
    change = {"outcome": "success", "built_at": BUILT_AT}
    insert(
        conn,
        "reporting.privileged_changes",
        [
            {
                **change,
                "day": d(11),
                "occurred_at": at(11, 9),
                "source_id": AUDITS,
                "event_id": "pc-1:0",
                "change_type": "role_assignment",
                "action": "Add member to role",
                "actor_user_id": uid("alice"),
                "actor": person("alice"),
                "actor_login": person("alice"),
                "target_type": "user",
                "target_name": person("bob"),
                "privilege": "Global Administrator",
                "new_value": {"Role.DisplayName": "Global Administrator"},
            },
            {
                **change,
                "day": d(11),
                "occurred_at": at(11, 10),
                "source_id": DB,
                "event_id": "pc-2",
                "change_type": "database_grant",
                "action": "GRANT",
                "actor_user_id": uid("bob"),
                "actor": person("bob"),
                "actor_login": "bob",
                "target_type": "table",
                "target_name": "billing.invoices",
                "statement": "GRANT SELECT ON billing.invoices TO reporting_app",
            },
            {
                **change,
                "day": d(25),
                "occurred_at": at(25),
                "source_id": AUDITS,
                "event_id": "pc-3:0",
                "change_type": "consent",
                "action": "Consent to application",
                "actor": person("dave"),
            },
        ],
    )
    review = {
        "sources": [SIGNINS],
        "active_days_30": 1,
        "active_days_90": 1,
        "events_90": 3,
        "mfa_unknown_90": 0,
        "is_stub": False,
        "is_guest": False,
        "is_disabled": False,
        "is_deleted": False,
        "as_of": d(29),
        "evaluable": True,
        "status": "complete",
    }
    insert(
        conn,
        "reporting.access_review",
        [
            {
                **review,
                "external_user_id": uid("alice"),
                "config_id": uid("Payroll"),
                "resource_name": "Payroll",
                "person": person("alice"),
                "display_name": "Alice",
                "last_access_at": at(10),
                "mfa_share_90": 1,
            },
            {
                **review,
                "external_user_id": uid("bob"),
                "config_id": uid("Payroll"),
                "resource_name": "Payroll",
                "person": person("bob"),
                "display_name": "Bob",
                "first_access_at": at(11),
                "last_access_at": at(11),
                "mfa_share_90": 0,
            },
            {
                **review,
                "external_user_id": uid("bob"),
                "config_id": uid("billing.invoices"),
                "resource_name": "billing.invoices",
                "resource_type": "table",
                "person": person("bob"),
                "display_name": "Bob",
                "sources": [DB],
                "last_access_at": at(11, 10),
                "mfa_unknown_90": 1,
                "evaluable": False,
                "status": "not_extracted",
            },
        ],
    )
    insert(
        conn,
        "audit.populations",
        [
            {
                "population_id": POPULATION,
                "kind": "entra_directory",
                "source_ids": [SIGNINS],
                "conn_id": "msgraph_default",
            }
        ],
    )
    insert(
        conn,
        "audit.population_snapshots",
        [
            {
                "snapshot_id": uid("snapshot"),
                "population_id": POPULATION,
                "taken_at": at(29, 5),
                "status": "complete",
                "accounts": 6,
            }
        ],
    )
    insert(
        conn,
        "audit.population_accounts",
        [
            *(population_account(p) for p in ("carol", "dave", "erin", "grace", "henry")),
            population_account(  # erin's earlier version: history, not the current account
                "erin",
                valid_from=datetime(2026, 1, 1, tzinfo=UTC),
                valid_to=datetime(2026, 10, 1, tzinfo=UTC),
                display_name="Erin (old)",
            ),
            population_account("ivan", deleted=True),
        ],
    )
    insert(
        conn,
        "reporting.dormant_accounts",
        [
            dormant(
                "carol",
                "dormant",
                last_success_at=datetime(2026, 7, 1, tzinfo=UTC),
                last_success_source=SIGNINS,
                days_since_success=151,
            ),
            dormant("dave", "never_signed_in"),
            dormant("erin", "active", last_success_at=at(20), days_since_success=9),
            dormant(
                "grace",
                "not_evaluable",
                reason=f"{SIGNINS} does not cover 2026-11-12 and 2026-11-13",
            ),
            dormant("henry", "new_account", account_created_at=datetime(2026, 11, 20, tzinfo=UTC)),
        ],
    )


@pytest.fixture(scope="module")
def auditor(pg_server: str, migrated_template: str) -> Iterator[str]:
    """A person's login, made as README "For auditors" tells an administrator to."""
    login = f"aud_{uuid.uuid4().hex[:10]}"
    admin = f"host={pg_server} dbname=postgres user=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {login} LOGIN IN ROLE auditor_readonly")
        conn.execute(f"ALTER ROLE {login} SET default_transaction_read_only = on")
    yield login
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP ROLE {login}")


@pytest.fixture
def warehouse(warehouse_dsn: str, auditor: str) -> str:
    """The data set in a fresh warehouse; returns the auditor's connection string."""
    with psycopg.connect(warehouse_dsn) as conn:
        write_data_set(conn)
    return make_conninfo(**{**conninfo_to_dict(warehouse_dsn), "user": auditor})


def run_query(conninfo: str, name: str, **variables: str) -> list[dict[str, str]]:
    """The file through psql as the auditor (``psql -v name=value -f file``), read as CSV:
    empty strings are NULLs, booleans t/f."""
    psql = shutil.which("psql")
    assert psql, "psql (postgresql-client) is needed to run the auditors' queries"
    command = [psql, "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1", "-d", conninfo]
    for key, value in variables.items():
        command += ["-v", f"{key}={value}"]
    command += ["-f", str(QUERIES / name)]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "PGTZ": "UTC"}, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(io.StringIO(done.stdout)))


def column(rows: list[dict[str, str]], name: str) -> list[str]:
    return [row[name] for row in rows]


def test_who_accessed_a_resource(warehouse: str) -> None:
    rows = run_query(
        warehouse,
        "who_accessed_resource.sql",
        resource="Payroll",
        **{"from": "2026-11-10", "to": "2026-11-12"},
    )
    assert column(rows, "person") == [person("alice"), person("bob"), ""]  # not erin (the 20th)
    alice, bob, gap = rows
    assert (alice["successes"], alice["failures"], alice["successes_with_mfa"]) == ("3", "0", "3")
    assert (bob["successes"], bob["failures"], bob["successes_without_mfa"]) == ("2", "1", "2")
    assert alice["days_with_access"] == bob["days_with_access"] == "1"
    # the 12th was not extracted: the people's counts are a lower bound, and the day says why
    assert (
        alice["evaluable"] == bob["evaluable"] == "f"
        and "lower bound" in bob["not_evaluable_because"]
    )
    assert (gap["sources"], gap["evaluable"], gap["successes"]) == (SIGNINS, "f", "")
    assert gap["not_evaluable_because"] == (
        "not_extracted on 2026-11-12: no window was extracted for the day"
    )

    rows = run_query(
        warehouse,
        "who_accessed_resource.sql",
        resource="billing.invoices",
        **{"from": "2026-11-10", "to": "2026-11-12"},
    )
    assert [(r["person"], r["successes"], r["evaluable"], r["sources"]) for r in rows] == [
        (person("bob"), "1", "t", DB)  # the database source covers every day: no gap row
    ]

    rows = run_query(
        warehouse,
        "who_accessed_resource.sql",
        resource="Payroll",
        **{"from": "2026-11-13", "to": "2026-11-13"},
    )
    assert [(r["person"], r["not_evaluable_because"]) for r in rows] == [
        ("", "no_report on 2026-11-13: no report was built for the day")  # not "nobody"
    ]


def test_who_lacks_mfa(warehouse: str) -> None:
    rows = run_query(
        warehouse, "people_without_mfa.sql", **{"from": "2026-11-10", "to": "2026-11-12"}
    )
    found = [
        (r["person"], r["finding"], r["successes_without_mfa"], r["successes_mfa_unknown"])
        for r in rows
    ]
    assert found == [
        (person("bob"), "never with MFA", "2", "0"),  # his database access is no sign-in
        (person("frank"), "MFA unknown", "0", "1"),
        ("", "not evaluable", "", ""),
    ]  # alice always used MFA; erin signed in without it only after the period
    assert rows[0]["resources_without_mfa"] == "Payroll"
    assert rows[0]["last_day_without_mfa"] == "2026-11-11"
    assert (
        rows[2]["sources"] == SIGNINS
        and "not_extracted on 2026-11-12" in rows[2]["not_evaluable_because"]
    )


def test_privileged_changes_and_who_made_them(warehouse: str) -> None:
    rows = run_query(
        warehouse, "privileged_changes.sql", **{"from": "2026-11-10", "to": "2026-11-12"}
    )
    changes = [
        (
            r["change_type"],
            r["changed_by"],
            r["changed_by_login"],
            r["target"],
            r["privilege"],
            r["source"],
        )
        for r in rows
    ]
    assert changes == [
        (
            "role_assignment",
            person("alice"),
            person("alice"),
            person("bob"),
            "Global Administrator",
            AUDITS,
        ),
        ("database_grant", person("bob"), "bob", "billing.invoices", "", DB),
        ("", "", "", "", "", AUDITS),  # the directory audits failed on the 12th
    ]  # not the consent of the 25th
    assert rows[0]["occurred_at"] == "2026-11-11 09:00:00+00"
    assert rows[1]["statement"] == "GRANT SELECT ON billing.invoices TO reporting_app"
    assert [r["evaluable"] for r in rows] == ["t", "t", "f"]
    assert rows[2]["not_evaluable_because"] == (
        "extract_failed on 2026-11-12: the extract failed: 503 Service Unavailable"
    )


def test_dormant_accounts(warehouse: str) -> None:
    rows = run_query(warehouse, "dormant_accounts.sql")
    assert [(r["login"], r["status"], r["evaluable"]) for r in rows] == [
        (person("carol"), "dormant", "t"),
        (person("dave"), "never_signed_in", "t"),
        (person("grace"), "not_evaluable", "f"),
    ]  # not erin (active) nor henry (too new)
    assert rows[0]["days_since_success"] == "151" and rows[0]["dormant_after_days"] == "90"
    assert "does not cover 2026-11-12" in rows[2]["reason"]


def test_failed_sign_ins_by_ip(warehouse: str) -> None:
    rows = run_query(
        warehouse, "failed_signins_by_ip.sql", **{"from": "2026-11-10", "to": "2026-11-12"}
    )
    assert [(r["ip_address"], r["failures"], r["lockouts"], r["accounts"]) for r in rows] == [
        ("203.0.113.7", "10", "1", "5"),
        ("198.51.100.23", "1", "0", "1"),
        ("", "", "", ""),
    ]  # not the 20th's 192.0.2.99
    spray, bob, gap = rows
    assert spray["bursts"].startswith("password_spraying from 2026-11-11 02:00:00+00")
    assert "10 failures on 5 accounts" in spray["bursts"]
    assert spray["error_codes"] == "50053, 50126" and spray["countries"] == "RU"
    assert bob["logins"] == person("bob") and bob["bursts"] == ""
    assert gap["sources"] == SIGNINS and gap["evaluable"] == "f"


def test_access_review_of_one_person(warehouse: str) -> None:
    rows = run_query(warehouse, "access_review_person.sql", person="BOB@contoso.com")
    assert [(r["resource"], r["evaluable"], r["status"]) for r in rows] == [
        ("billing.invoices", "f", "not_extracted"),  # the later access first
        ("Payroll", "t", "complete"),
    ]  # alice's row is not his
    assert rows[1]["mfa_percent_90"] == "0.0" and rows[0]["mfa_percent_90"] == ""
    by_id = run_query(warehouse, "access_review_person.sql", person=str(uid("bob")))
    assert by_id == rows


def test_coverage_gaps(warehouse: str) -> None:
    rows = run_query(warehouse, "coverage_gaps.sql", **{"from": "2026-11-10", "to": "2026-11-13"})
    assert [(r["source"], r["status"], r["which_days"]) for r in rows] == [
        (AUDITS, "extract_failed", "2026-11-12"),
        (AUDITS, "no_report", "2026-11-13"),
        (SIGNINS, "no_report", "2026-11-13"),
        (SIGNINS, "not_extracted", "2026-11-12"),
        (DB, "no_report", "2026-11-13"),
    ]
    assert rows[0]["least_covered_percent"] == "25.0"


def test_every_example_query_is_tested_documented_and_read_only(warehouse: str) -> None:
    tested = {
        "who_accessed_resource.sql",
        "people_without_mfa.sql",
        "privileged_changes.sql",
        "dormant_accounts.sql",
        "failed_signins_by_ip.sql",
        "access_review_person.sql",
        "coverage_gaps.sql",
    }
    assert {path.name for path in QUERIES.glob("*.sql")} == tested
    readme = README.read_text()
    for path in sorted(QUERIES.glob("*.sql")):
        text = path.read_text()
        lines = text.splitlines()
        assert lines[0].startswith("-- ") and lines[0].endswith("?"), path.name  # the question
        header = "\n".join(lines[: lines.index("-- Run:")])  # the question and parameters
        code = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
        used = set(re.findall(r":'(\w+)'", code))
        documented = set(re.findall(r"^--\s+:'(\w+)'\s+\S", header, re.MULTILINE))
        assert used == documented, path.name  # every parameter named and explained
        assert f"include/sql/auditor/{path.name}" in text  # its own psql command line
        assert path.name in readme, f"README does not list {path.name}"
    with psycopg.connect(warehouse) as conn:  # the role's sessions start read-only
        assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"


# --- the views, as the role reads them --------------------------------------------------------


def rows_of(conninfo: str, query: str) -> list[dict[str, Any]]:
    with psycopg.connect(conninfo) as conn:
        cursor = conn.execute(query)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_access_shows_every_event_in_plain_terms(warehouse: str) -> None:
    rows = rows_of(warehouse, "SELECT * FROM auditor.access ORDER BY occurred_at")
    signin, update = rows
    assert {
        k: signin[k]
        for k in (
            "person",
            "login",
            "resource",
            "resource_type",
            "action",
            "outcome",
            "mfa_used",
            "ip_address",
            "country",
            "city",
            "source",
            "source_kind",
            "tenant",
        )
    } == {
        "person": person("alice"),
        "login": person("alice"),
        "resource": "Payroll",
        "resource_type": "application",
        "action": "signIn",
        "outcome": "success",
        "mfa_used": "yes",
        "ip_address": "192.0.2.10",
        "country": "NL",
        "city": "Amsterdam",
        "source": SIGNINS,
        "source_kind": "entra",
        "tenant": "contoso",
    }
    # a database login: the login the server saw, the resolved person, MFA unknown (not "no")
    assert (update["login"], update["person"], update["mfa"], update["mfa_used"]) == (
        "bob",
        person("bob"),
        None,
        "unknown",
    )
    assert (update["resource"], update["statement"]) == (
        "billing.invoices",
        "UPDATE billing.invoices SET paid = true",
    )
    everything = repr(rows)
    assert SECRET_PROPERTY not in everything  # no raw properties
    assert "appdb_audit" not in everything and "msgraph_default" not in everything


def test_reporting_views_keep_not_evaluable_apart_from_zero(warehouse: str) -> None:
    marker = rows_of(
        warehouse, "SELECT * FROM auditor.daily_access WHERE person IS NULL ORDER BY source"
    )
    assert [
        (r["source"], r["events"], r["evaluable"], r["not_evaluable_because"]) for r in marker
    ] == [
        (AUDITS, None, False, "the extract failed: 503 Service Unavailable"),
        (SIGNINS, None, False, "no window was extracted for the day"),
    ]
    coverage = rows_of(
        warehouse,
        "SELECT * FROM auditor.source_coverage "
        "WHERE source = 'entra:contoso:directory_audits' "
        "AND day = '2026-11-12'",
    )
    assert [(r["covered_percent"], r["source_kind"], r["status"]) for r in coverage] == [
        (25.0, "entra", "extract_failed")
    ]
    mfa = rows_of(warehouse, "SELECT mfa_percent, evaluable FROM auditor.mfa_coverage")
    assert mfa == [{"mfa_percent": 50.0, "evaluable": True}]
    bursts = rows_of(
        warehouse, "SELECT pattern_meaning, accounts FROM auditor.failed_signin_bursts"
    )
    assert bursts == [{"pattern_meaning": "one IP address failing on many accounts", "accounts": 5}]
    dormant = rows_of(warehouse, "SELECT login FROM auditor.dormant_accounts ORDER BY login")
    assert [r["login"] for r in dormant] == [person("carol"), person("dave"), person("grace")]


def test_accounts_are_the_current_population(warehouse: str) -> None:
    rows = rows_of(warehouse, "SELECT * FROM auditor.accounts ORDER BY login")
    assert [(r["login"], r["display_name"], r["activity_status"]) for r in rows] == [
        (person("carol"), "Carol", "dormant"),
        (person("dave"), "Dave", "never_signed_in"),
        (person("erin"), "Erin", "active"),  # the current version only
        (person("grace"), "Grace", "not_evaluable"),
        (person("henry"), "Henry", "new_account"),
    ]  # ivan was deleted
    assert {r["population_kind"] for r in rows} == {"entra_directory"}
    assert rows[0]["last_seen_in_snapshot_at"] == at(29, 5)
    assert "msgraph_default" not in repr(rows)
